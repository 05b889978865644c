/**
 * A long-lived `nft -i` for small, frequent transactions (set element changes on Connect,
 * Disconnect and internet access). Spawning `nft` costs about 2 ms here, most of it process
 * start and library setup; a line written to a running `nft -i` is applied in about 0.2 ms.
 *
 * Each request is written as one line (one nft transaction) followed by a sentinel line that
 * nft rejects as a syntax error. nft reports errors on stderr in order, so everything on stderr
 * before the sentinel's own error belongs to the request: empty means it was applied. A session
 * that dies, stalls or says something unexpected is killed and the call fails with a
 * {@linkcode CommandError}; the next call starts a new `nft -i`.
 */
import { CommandError, killGroup } from "../../core/mod.ts";

const ARGV = ["nft", "-i"] as const;
const SENTINEL = "polyagent-sync-";

/** Applies one-line nft transactions. */
export interface NftTransactions {
  /** Applies `commands` (`;`-separated, no newline) as one transaction. */
  apply(commands: string, timeoutMs: number): Promise<void>;
  /** Stops the session's process. */
  close(): Promise<void>;
}

interface Process {
  child: Deno.ChildProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  reader: ReadableStreamDefaultReader<string>;
  buffer: string;
}

/** A serialised `nft -i` session, started on first use. */
export class NftSession implements NftTransactions {
  #process: Process | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #seq = 0;
  #closed = false;
  readonly #encoder = new TextEncoder();

  apply(commands: string, timeoutMs: number): Promise<void> {
    if (commands.includes("\n") || commands.includes("\r")) {
      return Promise.reject(new TypeError("nft session commands must be one line"));
    }
    const run = this.#queue.then(() => this.#applyNow(commands, timeoutMs));
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Starts `nft -i` now so the first transaction does not pay for it. A failure is left for the
   * first transaction to report.
   */
  warm(): void {
    if (this.#closed || this.#process) return;
    try {
      this.#process = this.#spawn();
    } catch {
      // reported by apply()
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    await this.#stop();
  }

  async #applyNow(commands: string, timeoutMs: number): Promise<void> {
    if (this.#closed) throw new CommandError("nft session closed", this.#failure(""));
    const proc = this.#process ??= this.#spawn();
    const marker = `${SENTINEL}${++this.#seq}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
    });
    try {
      await Promise.race([
        proc.writer.write(this.#encoder.encode(`${commands}\n${marker}\n`)),
        timeout,
      ]);
      const stderr = await Promise.race([this.#readUntil(proc, marker), timeout]);
      if (stderr.trim() !== "") {
        throw new CommandError(
          `nft rejected the transaction: ${stderr.trim().split("\n")[0]}`,
          this.#failure(stderr, 1, commands),
        );
      }
    } catch (error) {
      if (error instanceof CommandError) throw error;
      // Dead, stalled or confused: start afresh next time.
      await this.#stop();
      const timedOut = (error as Error).message === "timeout";
      throw new CommandError(
        timedOut
          ? `nft session timed out after ${timeoutMs} ms`
          : `nft session failed: ${(error as Error).message}`,
        { ...this.#failure("", null, commands), timedOut },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads stderr through the sentinel's error report; returns what came before it. */
  async #readUntil(proc: Process, marker: string): Promise<string> {
    // nft echoes the rejected line, then a line of carets under the bad token.
    const end = new RegExp(`(?:^|\\n)Error:[^\\n]*\\n${marker}\\n[ ^~]*\\n`);
    for (;;) {
      const m = end.exec(proc.buffer);
      if (m) {
        const before = proc.buffer.slice(0, m.index);
        proc.buffer = proc.buffer.slice(m.index + m[0].length);
        return before;
      }
      if (proc.buffer.length > 1 << 20) throw new Error("unexpected output from nft");
      const { value, done } = await proc.reader.read();
      if (done) throw new Error("nft exited");
      proc.buffer += value;
    }
  }

  #spawn(): Process {
    const child = new Deno.Command(ARGV[0], {
      args: ARGV.slice(1),
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
      // its own process group: a stalled nft is killed with anything it started
      detached: true,
    }).spawn();
    return {
      child,
      writer: child.stdin.getWriter(),
      reader: child.stderr.pipeThrough(new TextDecoderStream()).getReader(),
      buffer: "",
    };
  }

  async #stop(): Promise<void> {
    const proc = this.#process;
    this.#process = null;
    if (!proc) return;
    await proc.writer.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      proc.child.status.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 200)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      killGroup(proc.child.pid, "SIGKILL");
      await proc.child.status;
    }
    await proc.reader.cancel().catch(() => {});
  }

  #failure(stderr: string, code: number | null = null, commands = "") {
    return { argv: [...ARGV, commands], code, timedOut: false, stderr, stdout: "" };
  }
}
