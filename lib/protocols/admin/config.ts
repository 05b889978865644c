/** The `[admin]` config section. */
import type { z } from "zod";
import { flag, listenAddress, section, text } from "../../core/mod.ts";

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
  });
}

/** The parsed `[admin]` section. */
export type AdminConfig = z.infer<ReturnType<typeof adminConfigSchema>>;
