/** The `[admin]` config section. */
import type { z } from "zod";
import { flag, limitsSchema, listenAddress, section, text } from "../../core/mod.ts";

/** The `[admin]` section. */
export function adminConfigSchema() {
  return section({
    enabled: flag().default(true),
    /** Address of the admin endpoint. */
    listen: listenAddress().default("127.0.0.1:9150"),
    /**
     * Secret the status page asks for (`Authorization: Bearer`, or a cookie set from `?token=`);
     * empty: none, allowed only while `listen` is a loopback address.
     */
    token: text().default(""),
    /** Offer the status page's operator actions (disconnect, out of rotation, restart). */
    actions: flag().default(false),
    /** `[admin.limits]`: connection caps, request head deadline (408), keep-alive idle timeout. */
    limits: limitsSchema({ max_connections: 256, max_per_peer: 0, idle_timeout_ms: 60_000 }),
  });
}

/** The parsed `[admin]` section. */
export type AdminConfig = z.infer<ReturnType<typeof adminConfigSchema>>;
