/**
 * SUBSCRIBE_EVENTS: every subscribed command connection gets each backend event as sozu 0.13
 * sends it — a PROCESSING reply with id "EVENT", the worker id as message and data
 * `{type:"EVENT", data:{type: E, data}}` (`BACKEND_DOWN` / `BACKEND_UP` /
 * `REMOVED_BACKEND_HAS_NO_CONNECTIONS`: `[backend_id, "ip:port"]`; `NO_AVAILABLE_BACKENDS`:
 * app id) — until it disconnects. A subscriber that does not read cannot hold the proxy up: at
 * most `maxQueued` events wait for its socket, later ones are dropped and counted.
 */
import type { ProxyEvent } from "../../backends/http_proxy/mod.ts";
import { type CommandResponse, response } from "./schemas.ts";

/** Where a subscriber's replies go: its connection. */
export interface ReplyStream {
  /** Sends one reply; resolves once written (or the connection broke). */
  send(reply: CommandResponse): Promise<void>;
  /** Runs `fn` when the connection ends. */
  onClose(fn: () => void): void;
  /**
   * The connection now stays open while quiet (a subscriber may see no event for hours): the
   * listener's idle timeout no longer applies to it; at the connection cap it can still be evicted.
   */
  keepOpen(): void;
}

interface Subscriber {
  stream: ReplyStream;
  queued: number;
}

/** The reply sozu sends for one event. */
export function eventReply(event: ProxyEvent): CommandResponse {
  const data = event.type === "NO_AVAILABLE_BACKENDS"
    ? event.clusterId
    : [event.backendId, event.address];
  return response("EVENT", "PROCESSING", String(event.workerId), {
    type: "EVENT",
    data: { type: event.type, data },
  });
}

/** The subscribers of one sozu service. */
export class SozuEventHub {
  #subscribers = new Set<Subscriber>();
  #maxQueued: number;
  /** Events written to subscribers, and dropped because one's queue was full. */
  sent = 0;
  dropped = 0;

  constructor(maxQueued = 1024) {
    this.#maxQueued = maxQueued;
  }

  /** Number of subscribed connections. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Adds a subscriber until its connection ends. */
  subscribe(stream: ReplyStream): void {
    const subscriber: Subscriber = { stream, queued: 0 };
    stream.keepOpen();
    this.#subscribers.add(subscriber);
    stream.onClose(() => this.#subscribers.delete(subscriber));
  }

  /** Sends an event to every subscriber. */
  publish(event: ProxyEvent): void {
    if (this.#subscribers.size === 0) return;
    const reply = eventReply(event);
    for (const subscriber of this.#subscribers) {
      if (subscriber.queued >= this.#maxQueued) {
        this.dropped++;
        continue;
      }
      subscriber.queued++;
      this.sent++;
      void subscriber.stream.send(reply).then(() => subscriber.queued--);
    }
  }

  /** Prometheus lines: subscribers, events sent and dropped. */
  metrics(): string {
    return "# HELP polyagent_sozu_event_subscribers Connections subscribed to sozu events.\n" +
      "# TYPE polyagent_sozu_event_subscribers gauge\n" +
      `polyagent_sozu_event_subscribers ${this.#subscribers.size}\n` +
      "# HELP polyagent_sozu_events_total Events sent to subscribers, by outcome.\n" +
      "# TYPE polyagent_sozu_events_total counter\n" +
      `polyagent_sozu_events_total{outcome="sent"} ${this.sent}\n` +
      `polyagent_sozu_events_total{outcome="dropped"} ${this.dropped}\n`;
  }
}
