/**
 * Live address changes inside a running container's network namespace, done from the host with
 * `nsenter -t <pid> -n ip …` so the image needs no tools of its own.
 */
import type { CommandRunner } from "../../core/mod.ts";

const TIMEOUT_MS = 10_000;

/** One address change on the container's interface. */
export interface AddressChange {
  /** PID of a process in the container (its init). */
  pid: number;
  /** Interface inside the container. */
  device: string;
  /** Old address in CIDR form (removed), or null. */
  from: string | null;
  /** New address in CIDR form. */
  to: string;
  /** IPv4 broadcast for `to`, when IPv4. */
  broadcast?: string;
  /** Default gateway to restore after the change, or "dev" for on-link, or null. */
  gateway: string | null;
}

/** Swaps the old address for the new one and restores the default route. */
export async function changeAddress(runner: CommandRunner, change: AddressChange): Promise<void> {
  if (!Number.isInteger(change.pid) || change.pid <= 1) throw new RangeError("Invalid pid");
  const v6 = change.to.includes(":");
  const ns = ["nsenter", "-t", String(change.pid), "-n", "ip", ...(v6 ? ["-6"] : ["-4"])];
  // Old first: deleting a primary IPv4 address also deletes secondaries of the same subnet.
  if (change.from && change.from !== change.to) {
    await runner([...ns, "addr", "del", change.from, "dev", change.device], {
      timeoutMs: TIMEOUT_MS,
      check: false,
    });
  }
  const add = [...ns, "addr", "replace", change.to, "dev", change.device];
  if (change.broadcast) add.push("broadcast", change.broadcast);
  if (v6) add.push("nodad");
  await runner(add, { timeoutMs: TIMEOUT_MS });
  if (change.gateway === "dev") {
    await runner([...ns, "route", "replace", "default", "dev", change.device], {
      timeoutMs: TIMEOUT_MS,
    });
  } else if (change.gateway) {
    await runner([...ns, "route", "replace", "default", "via", change.gateway], {
      timeoutMs: TIMEOUT_MS,
    });
  }
}
