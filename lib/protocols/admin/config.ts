/** The `[admin]` config section. */
import type { z } from "zod";
import { flag, listenAddress, section } from "../../core/mod.ts";

/** The `[admin]` section. */
export function adminConfigSchema() {
  return section({
    enabled: flag().default(true),
    /** Address of the admin endpoint. */
    listen: listenAddress().default("127.0.0.1:9150"),
  });
}

/** The parsed `[admin]` section. */
export type AdminConfig = z.infer<ReturnType<typeof adminConfigSchema>>;
