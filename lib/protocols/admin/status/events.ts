/**
 * The live stream of the status page (`GET /status/events`, Server-Sent Events). While at least
 * one page listens, one timer builds a view once a second, renders its fragments once, and sends
 * each listener only the fragments that changed since its last update (an `update` event whose
 * data is `{id: html}` and whose event id names the view); with nobody listening the timer stops
 * and nothing is collected. A stream opened with `?since=<view>` of a recent view (the page it
 * was loaded with, or its last update) starts from that view; otherwise the first update carries
 * every fragment. A listener that stops reading is dropped.
 */
import { errorText, type Logger } from "../../../core/mod.ts";

/** Updates at most this often. */
export const UPDATE_INTERVAL_MS = 1000;
/** A comment line keeps quiet streams (and the proxies between) open. */
const HEARTBEAT_MS = 15_000;
/** Unread updates after which a listener is dropped. */
const MAX_QUEUED = 8;
/** Recent views remembered for `since`. */
const RECENT_VIEWS = 4;

/** A rendered view: its id (the time it was built) and its fragments by element id. */
export interface RenderedView {
  id: number;
  fragments: Map<string, string>;
}

interface Listener {
  controller: ReadableStreamDefaultController<Uint8Array>;
  last: Map<string, string>;
  sentAt: number;
}

const encoder = new TextEncoder();

/** Streams the page's fragments to every open page. */
export class StatusEvents {
  #render: () => Promise<RenderedView>;
  #log: Logger;
  #listeners = new Set<Listener>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #busy = false;

  #recent = new Map<number, Map<string, string>>();

  /** `render` gives the current view's id and fragments by element id. */
  constructor(render: () => Promise<RenderedView>, log: Logger) {
    this.#render = render;
    this.#log = log;
  }

  /** Open streams. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Remembers a view a page was rendered from, so its stream can start from it. */
  remember(view: RenderedView): void {
    this.#recent.set(view.id, view.fragments);
    for (const id of this.#recent.keys()) {
      if (this.#recent.size <= RECENT_VIEWS) break;
      this.#recent.delete(id);
    }
  }

  /** A new stream for one page, which shows view `since` (if known). */
  open(since: number | null): ReadableStream<Uint8Array> {
    let listener: Listener;
    const last = since === null ? undefined : this.#recent.get(since);
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        listener = { controller, last: new Map(last ?? []), sentAt: Date.now() };
        this.#listeners.add(listener);
        controller.enqueue(encoder.encode("retry: 2000\n\n"));
        this.#ensureTimer();
        void this.#tick();
      },
      cancel: () => this.#drop(listener),
    }, { highWaterMark: MAX_QUEUED });
  }

  /** Ends every stream (the service is stopping). */
  close(): void {
    for (const l of [...this.#listeners]) {
      try {
        l.controller.close();
      } catch {
        // already closed
      }
      this.#drop(l);
    }
  }

  #drop(listener: Listener): void {
    this.#listeners.delete(listener);
    if (this.#listeners.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  #ensureTimer(): void {
    if (this.#timer === null) {
      this.#timer = setInterval(() => void this.#tick(), UPDATE_INTERVAL_MS);
    }
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#listeners.size === 0) return;
    this.#busy = true;
    try {
      const view = await this.#render();
      this.remember(view);
      const now = Date.now();
      for (const l of [...this.#listeners]) this.#send(l, view, now);
    } catch (error) {
      this.#log.warn("status page update failed", { error: errorText(error) });
    } finally {
      this.#busy = false;
    }
  }

  #send(l: Listener, view: RenderedView, now: number): void {
    const fragments = view.fragments;
    const changed: Record<string, string | null> = {};
    let any = false;
    for (const [id, html] of fragments) {
      if (l.last.get(id) !== html) {
        changed[id] = html;
        any = true;
      }
    }
    for (const id of l.last.keys()) {
      if (!fragments.has(id)) {
        changed[id] = null;
        any = true;
      }
    }
    const c = l.controller;
    if ((c.desiredSize ?? 0) <= 0) {
      try {
        c.error(new Error("the page stopped reading"));
      } catch {
        // already closed
      }
      this.#drop(l);
      return;
    }
    if (any) {
      l.last = new Map(fragments);
      l.sentAt = now;
      const data = JSON.stringify(changed);
      c.enqueue(encoder.encode(`event: update\nid: ${view.id}\ndata: ${data}\n\n`));
    } else if (now - l.sentAt >= HEARTBEAT_MS) {
      l.sentAt = now;
      c.enqueue(encoder.encode(": still here\n\n"));
    }
  }
}
