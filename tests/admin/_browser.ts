/**
 * A headless Debian `chromium` driven over the DevTools protocol with Deno's own WebSocket (no
 * browser driver download): launch with a fresh profile, open one page, evaluate expressions,
 * resize the viewport, take a screenshot. The browser is stopped by its pid (SIGTERM, then
 * SIGKILL after 3 s), which also ends its helper processes.
 */
import { join } from "node:path";
import { tempDir, which } from "../_helpers/mod.ts";

/** The Chromium binary of Debian's package. */
export const CHROMIUM = "chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-extensions",
  "--remote-debugging-address=127.0.0.1",
  "--remote-debugging-port=0",
];

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** One browser with one page (tab). */
export class Browser implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #ws: WebSocket;
  #session = "";
  #seq = 0;
  #pending = new Map<number, Pending>();
  #events: { method: string; params: Record<string, unknown> }[] = [];
  #profile: AsyncDisposable;

  private constructor(child: Deno.ChildProcess, ws: WebSocket, profile: AsyncDisposable) {
    this.#child = child;
    this.#ws = ws;
    this.#profile = profile;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data as string);
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`));
        else p?.resolve(msg.result);
      } else if (msg.method) this.#events.push({ method: msg.method, params: msg.params ?? {} });
    };
  }

  /** Starts chromium with a fresh profile and attaches to a new blank page. */
  static async launch(): Promise<Browser> {
    const path = which(CHROMIUM);
    if (!path) throw new Error("chromium is not installed");
    const profile = await tempDir("chromium");
    const child = new Deno.Command(path, {
      args: [...FLAGS, `--user-data-dir=${join(profile.path, "profile")}`, "about:blank"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const url = await devtoolsUrl(child.stderr);
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("cannot open the DevTools WebSocket"));
    });
    const browser = new Browser(child, ws, profile);
    const { targetId } = await browser.send("Target.createTarget", { url: "about:blank" }) as {
      targetId: string;
    };
    const { sessionId } = await browser.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    }) as { sessionId: string };
    browser.#session = sessionId;
    await browser.send("Page.enable");
    await browser.send("Runtime.enable");
    return browser;
  }

  /** Sends a DevTools command (to the page once attached). */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#seq;
    const message = { id, method, params, ...(this.#session ? { sessionId: this.#session } : {}) };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify(message));
    });
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    const seen = this.#events.length;
    await this.send("Page.navigate", { url });
    const deadline = Date.now() + 15_000;
    while (!this.#events.slice(seen).some((e) => e.method === "Page.loadEventFired")) {
      if (Date.now() > deadline) throw new Error(`${url} did not load`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Evaluates an expression in the page and returns its value (JSON-serialisable). */
  async eval<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true }) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (r.exceptionDetails) throw new Error(`page error: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value;
  }

  /** Console messages and exceptions the page reported. */
  problems(): string[] {
    return this.#events.filter((e) =>
      e.method === "Runtime.exceptionThrown" ||
      (e.method === "Runtime.consoleAPICalled" && e.params.type === "error")
    ).map((e) => JSON.stringify(e.params).slice(0, 500));
  }

  /** Sets the viewport width (CSS px). */
  async viewport(width: number, height = 900): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: width < 600,
    });
  }

  /** A PNG of the whole page. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    }) as { data: string };
    return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#ws.close();
    } catch {
      // closed
    }
    const kill = (signal: Deno.Signal) => {
      try {
        this.#child.kill(signal);
      } catch {
        // exited
      }
    };
    kill("SIGTERM");
    const late = setTimeout(() => kill("SIGKILL"), 3000);
    await this.#child.status;
    clearTimeout(late);
    await this.#profile[Symbol.asyncDispose]();
  }
}

/** Reads chromium's stderr until it prints the DevTools URL, then drains the rest. */
async function devtoolsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
    if (m) {
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })().catch(() => {});
      return m[1]!;
    }
  }
  throw new Error(`chromium printed no DevTools URL:\n${text.slice(-2000)}`);
}
