/**
 * One openvpn process and its management session as an event-driven state machine:
 * DISCONNECTED → CONNECTING → CONNECTED ⇄ RECONNECTING → DISCONNECTING → DISCONNECTED.
 * Every transition comes from an event (process start/exit, `>STATE:`, `>HOLD:`, socket EOF) or
 * from one of two one-shot timers (connect timeout, stop timeout → SIGKILL). Nothing polls.
 */
import { ManagementClient, type ManagementEvent, parseStateLine } from "./management.ts";
import {
  isAlive,
  isOurOpenvpn,
  type Launched,
  launchOpenvpn,
  rotateLog,
  signalProcess,
  waitForSocket,
} from "./process.ts";
import { logTail } from "./tunnel_log.ts";
import {
  type OpenVpnTunnelStatus,
  SendSignalError,
  type TunnelEnd,
  type TunnelOptions,
  type TunnelSnapshot,
} from "./tunnel_types.ts";

/** One openvpn connection. */
export class Tunnel {
  #o: TunnelOptions;
  #status: OpenVpnTunnelStatus = "DISCONNECTED";
  #ovpn = "DISCONNECTED";
  #connectedTime: number | null = null;
  #in = 0;
  #out = 0;
  #localIp = "";
  #remoteIp = "";
  #pid: number | null = null;
  #error: string | null = null;
  #launched: Launched | null = null;
  #mgmt: ManagementClient | null = null;
  /** Whether the management interface has said anything yet. */
  #heard = false;
  #abort = new AbortController();
  #connectTimer: ReturnType<typeof setTimeout> | null = null;
  #killTimer: ReturnType<typeof setTimeout> | null = null;
  #stopping = false;
  #done = false;
  #ended = Promise.withResolvers<TunnelEnd>();
  #connected = Promise.withResolvers<void>();
  #firstBytecount = Promise.withResolvers<void>();

  constructor(options: TunnelOptions) {
    this.#o = options;
    this.#connected.promise.catch(() => {});
  }

  /** Resolves once the tunnel is over (or detached). */
  get ended(): Promise<TunnelEnd> {
    return this.#ended.promise;
  }

  /** Resolves at CONNECTED; rejects when the attempt ends first. */
  get connected(): Promise<void> {
    return this.#connected.promise;
  }

  get status(): OpenVpnTunnelStatus {
    return this.#status;
  }

  get pid(): number | null {
    return this.#pid;
  }

  snapshot(): TunnelSnapshot {
    return {
      status: this.#status,
      ovpnStatus: this.#ovpn,
      connectedTime: this.#connectedTime,
      bytesIn: this.#in,
      bytesOut: this.#out,
      pid: this.#pid,
      localIp: this.#localIp,
      remoteIp: this.#remoteIp,
      lastError: this.#error,
    };
  }

  #changed(): void {
    try {
      this.#o.onChange?.(this.snapshot());
    } catch (error) {
      this.#o.log.warn("tunnel change listener failed", { name: this.#o.name, error });
    }
  }

  #setStatus(status: OpenVpnTunnelStatus): void {
    if (this.#status === status) return;
    this.#o.log.info("tunnel state", { name: this.#o.name, from: this.#status, to: status });
    this.#status = status;
    this.#changed();
  }

  /** Starts openvpn; returns its pid. Throws when it cannot be spawned. */
  launch(): number {
    this.#status = "CONNECTING";
    this.#ovpn = "";
    rotateLog(this.#o.spec.logFile);
    this.#launched = launchOpenvpn(this.#o.spec);
    this.#pid = this.#launched.pid;
    this.#changed();
    this.#armConnectTimer();
    this.#launched.exited.then((status) => this.#onExit(status), () => this.#onExit(null))
      .catch((error) => this.#o.log.error("tunnel exit handling failed", { error }));
    waitForSocket(this.#o.spec.management, this.#abort.signal).then(
      (conn) => this.#attach(conn, true),
      () => {/* the exit or the timeout path reports */},
    );
    return this.#pid;
  }

  /** Re-adopts an openvpn a previous agent started; null when it is not (or no longer) ours. */
  static async adopt(options: TunnelOptions, pid: number): Promise<Tunnel | null> {
    if (!(await isOurOpenvpn(pid, options.spec.management, options.runner))) return null;
    let conn: Deno.UnixConn;
    try {
      conn = await Deno.connect({ transport: "unix", path: options.spec.management });
    } catch {
      return null;
    }
    const tunnel = new Tunnel(options);
    tunnel.#pid = pid;
    tunnel.#status = "CONNECTING";
    tunnel.#ovpn = "";
    await tunnel.#attach(conn, false);
    if (tunnel.#status === "CONNECTING") tunnel.#armConnectTimer();
    // `status 2` counts since openvpn's last soft restart, BYTECOUNT since it started (what the
    // agent reported before): wait briefly for the first BYTECOUNT so counters carry on
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      tunnel.#firstBytecount.promise,
      tunnel.#ended.promise,
      new Promise((r) => timer = setTimeout(r, options.bytecountInterval * 1000 + 1500)),
    ]);
    clearTimeout(timer);
    return tunnel;
  }

  #armConnectTimer(): void {
    this.#connectTimer = setTimeout(() => {
      this.#connectTimer = null;
      if (this.#status !== "CONNECTING") return;
      this.#error = this.#heard
        ? `openvpn did not reach CONNECTED within ${this.#o.connectTimeoutMs} ms (last state ${
          this.#ovpn || "none"
        })`
        : `openvpn's management interface did not answer within ${this.#o.connectTimeoutMs} ms`;
      this.#o.log.warn("connect timed out; stopping openvpn", {
        name: this.#o.name,
        error: this.#error,
      });
      this.stop().catch((error) =>
        this.#o.log.error("stopping timed-out tunnel failed", { name: this.#o.name, error })
      );
    }, this.#o.connectTimeoutMs);
  }

  async #attach(conn: Deno.UnixConn, fresh: boolean): Promise<void> {
    if (this.#done) {
      conn.close();
      return;
    }
    const mgmt = ManagementClient.attach(conn, { onEvent: (e) => this.#onEvent(e) });
    this.#mgmt = mgmt;
    mgmt.closed.then(() => this.#onManagementClosed(mgmt)).catch((error) =>
      this.#o.log.error("management close handling failed", { error })
    );
    if (!fresh) {
      try {
        const lines = await mgmt.command("state", { multiline: true });
        const last = lines.length > 0 ? parseStateLine(lines[lines.length - 1]!) : null;
        if (last) this.#onEvent(last);
        const stats = await mgmt.command("status 2", { multiline: true });
        for (const line of stats) {
          const [key, value] = line.split(",");
          if (key === "TCP/UDP read bytes") this.#in = Number(value) || 0;
          if (key === "TCP/UDP write bytes") this.#out = Number(value) || 0;
        }
      } catch (error) {
        this.#o.log.warn("re-adopted openvpn did not answer state", { name: this.#o.name, error });
      }
    }
    mgmt.fire("state on");
    mgmt.fire(`bytecount ${this.#o.bytecountInterval}`);
    if (!fresh) mgmt.fire("hold release");
  }

  #onEvent(event: ManagementEvent): void {
    this.#heard = true;
    switch (event.type) {
      case "hold":
        this.#mgmt?.fire("hold release");
        return;
      case "bytecount":
        this.#in = event.bytesIn;
        this.#out = event.bytesOut;
        this.#firstBytecount.resolve();
        return;
      case "state": {
        this.#ovpn = event.state;
        if (event.state === "CONNECTED") {
          this.#connectedTime = event.time;
          this.#localIp = event.localIp;
          this.#remoteIp = event.remoteIp;
          this.#error = null;
          if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
          this.#connectTimer = null;
          if (this.#status === "CONNECTING" || this.#status === "RECONNECTING") {
            this.#setStatus("CONNECTED");
            this.#connected.resolve();
          } else this.#changed();
        } else if (event.state === "EXITING") {
          if (this.#status !== "DISCONNECTED") this.#setStatus("DISCONNECTING");
        } else if (this.#status === "CONNECTED") {
          this.#setStatus("RECONNECTING");
        } else this.#changed();
        return;
      }
      default:
        return;
    }
  }

  #onManagementClosed(mgmt: ManagementClient): void {
    if (this.#mgmt !== mgmt || this.#done) return;
    this.#mgmt = null;
    if (this.#status !== "DISCONNECTED") this.#setStatus("DISCONNECTING");
    if (this.#launched) {
      // our child: its exit status ends the tunnel; make sure it does end
      this.#armKill();
      return;
    }
    // adopted: EOF means openvpn is exiting; kill it if it lingers
    const pid = this.#pid;
    if (pid === null) return this.#finish(null);
    isAlive(pid, this.#o.runner).then((alive) => {
      if (alive) this.#armKill(() => this.#finish(null));
      else this.#finish(null);
    });
  }

  #armKill(after?: () => void): void {
    if (this.#killTimer !== null) return;
    this.#killTimer = setTimeout(async () => {
      this.#killTimer = null;
      if (this.#pid !== null && await isAlive(this.#pid, this.#o.runner)) {
        this.#o.log.warn("openvpn did not exit in time; killing it", {
          name: this.#o.name,
          pid: this.#pid,
        });
        try {
          (this.#o.signal ?? signalProcess)(this.#pid, "SIGKILL");
        } catch (error) {
          this.#o.log.error("cannot kill openvpn", { name: this.#o.name, pid: this.#pid, error });
        }
      }
      after?.();
    }, this.#o.stopTimeoutMs);
  }

  async #onExit(status: Deno.CommandStatus | null): Promise<void> {
    if (this.#done) return;
    if (!this.#stopping && this.#status !== "CONNECTED" && this.#error === null) {
      this.#error = `openvpn exited with status ${status?.code ?? "unknown"}${
        status?.signal ? ` (${status.signal})` : ""
      } before connecting: ${await this.#failureText()}`;
    } else if (!this.#stopping && this.#error === null) {
      this.#error = `openvpn exited with status ${status?.code ?? "unknown"}`;
    }
    this.#finish(this.#error);
  }

  async #failureText(): Promise<string> {
    let early = "";
    if (this.#launched) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      early = await Promise.race([
        this.#launched.early,
        new Promise<string>((r) => timer = setTimeout(() => r(""), 1000)),
      ]);
      clearTimeout(timer);
    }
    if (early) return early.split("\n").slice(-3).join(" | ");
    return await logTail(this.#o.spec.logFile);
  }

  #finish(error: string | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#abort.abort(new Error("tunnel ended"));
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    if (this.#killTimer !== null) clearTimeout(this.#killTimer);
    this.#mgmt?.close();
    this.#mgmt = null;
    const end: TunnelEnd = { detached: false, bytesIn: this.#in, bytesOut: this.#out, error };
    if (error) this.#error = error;
    this.#ovpn = "DISCONNECTED";
    this.#status = "DISCONNECTED";
    this.#o.log.info("tunnel ended", {
      name: this.#o.name,
      pid: this.#pid,
      bytesIn: this.#in,
      bytesOut: this.#out,
      ...(error ? { error } : {}),
    });
    this.#connected.reject(new Error(error ?? "tunnel ended"));
    Deno.remove(this.#o.spec.management).catch(() => {});
    Deno.remove(this.#o.spec.pidFile).catch(() => {});
    this.#changed();
    this.#ended.resolve(end);
  }

  /**
   * Stops openvpn: `signal SIGTERM` over management (or SIGTERM when there is no session), then
   * SIGKILL after the stop timeout. Resolves when it is gone. Throws {@linkcode SendSignalError}
   * when no signal could be delivered.
   */
  async stop(): Promise<void> {
    await this.beginStop();
    await this.#ended.promise;
  }

  /**
   * Delivers the stop (as {@linkcode stop}) and resolves once openvpn has been told, without
   * waiting for it to exit. Throws {@linkcode SendSignalError} when nothing could be delivered.
   */
  async beginStop(): Promise<void> {
    if (this.#done) return;
    if (!this.#stopping) {
      const before = this.#status;
      this.#stopping = true;
      this.#setStatus("DISCONNECTING");
      let sent = false;
      const mgmt = this.#mgmt;
      if (mgmt && !mgmt.isClosed) {
        try {
          await mgmt.command("signal SIGTERM");
          sent = true;
        } catch (error) {
          this.#o.log.warn("management signal failed; using kill", { name: this.#o.name, error });
        }
      }
      if (!sent && this.#pid !== null && !this.#done) {
        try {
          if (!(this.#o.signal ?? signalProcess)(this.#pid, "SIGTERM")) {
            // already gone: the exit/EOF path finishes, or nothing will
            if (!this.#launched) this.#finish(null);
          }
          sent = true;
        } catch (error) {
          this.#stopping = false;
          this.#status = before;
          this.#changed();
          throw new SendSignalError(
            `cannot signal openvpn (pid ${this.#pid}): ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
      if (this.#pid === null) this.#finish(null);
      if (!this.#done) this.#armKill(this.#launched ? undefined : () => this.#finish(null));
    }
  }

  /** Lets go of openvpn without stopping it (agent shutdown); it is re-adopted on start. */
  detach(): void {
    if (this.#done) return;
    this.#done = true;
    this.#abort.abort(new Error("detached"));
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    if (this.#killTimer !== null) clearTimeout(this.#killTimer);
    this.#mgmt?.close();
    this.#mgmt = null;
    this.#connected.reject(new Error("detached"));
    this.#ended.resolve({ detached: true, bytesIn: this.#in, bytesOut: this.#out, error: null });
  }
}
