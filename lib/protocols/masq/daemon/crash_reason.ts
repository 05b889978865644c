/**
 * The `crashReason` of a `crashed` broadcast, classified like the real
 * `crash_notification.rs`: serde's external tagging gives `{"ChildWaitFailure": text}` and
 * `{"Unrecognized": text}` but the bare string `"NoInformation"`.
 */

/** A crash reason as it appears on the wire. */
export type CrashReason =
  | { ChildWaitFailure: string }
  | "NoInformation"
  | { Unrecognized: string };

const WAIT_FAILURE = "Child wait failure: ";

/** Classifies an exit: no exit code plus a wait-failure text, no information, or unrecognized. */
export function crashReason(exitCode: number | null, stderr: string | null): CrashReason {
  if (exitCode === null) {
    if (stderr !== null && stderr.startsWith(WAIT_FAILURE)) {
      return { ChildWaitFailure: stderr.slice(WAIT_FAILURE.length) };
    }
    if (stderr === null || stderr.trim() === "") return "NoInformation";
  }
  return { Unrecognized: stderr ?? "" };
}
