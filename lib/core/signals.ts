/**
 * What each catchable signal does to the agent, decided once so that none of them kills it by
 * accident (Deno's default action for SIGHUP, SIGUSR1, SIGUSR2, SIGALRM … is to terminate):
 *
 * - stop: SIGTERM, SIGINT, SIGQUIT — stop every service and exit 0;
 * - services: SIGHUP, SIGUSR1, SIGUSR2 — offered to the running services (`Service.onSignal`;
 *   cryptoded reloads its profiles on SIGUSR1 and SIGHUP); when none takes it, it is logged and
 *   ignored;
 * - ignored: SIGALRM, SIGVTALRM, SIGIO, SIGPWR, SIGSTKFLT, SIGXFSZ — logged and ignored (with
 *   SIGXFSZ ignored an oversized write fails with an error instead of killing the agent).
 *
 * Left at their default on purpose: SIGKILL/SIGSTOP (cannot be caught), SIGSEGV/SIGILL/SIGFPE/
 * SIGBUS/SIGABRT/SIGSYS/SIGTRAP (real faults and debuggers), SIGXCPU (a CPU limit the operator
 * set), SIGPROF (V8's profiler), SIGPIPE (already ignored by Deno), and the ones whose default is
 * not to terminate (SIGCHLD, SIGWINCH, SIGURG, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU).
 */

/** What a signal does to the agent. */
export type SignalAction = "stop" | "services" | "ignore";

/** The catchable signals the agent handles, and what each does. */
export const AGENT_SIGNALS: Readonly<Partial<Record<Deno.Signal, SignalAction>>> = {
  SIGTERM: "stop",
  SIGINT: "stop",
  SIGQUIT: "stop",
  SIGHUP: "services",
  SIGUSR1: "services",
  SIGUSR2: "services",
  SIGALRM: "ignore",
  SIGVTALRM: "ignore",
  SIGIO: "ignore",
  SIGPWR: "ignore",
  SIGSTKFLT: "ignore",
  SIGXFSZ: "ignore",
};

/**
 * Listens for every signal of {@linkcode AGENT_SIGNALS} and calls `onSignal` with it and its
 * action; returns the function that stops listening.
 */
export function listenForSignals(
  onSignal: (signal: Deno.Signal, action: SignalAction) => void,
): () => void {
  const installed: [Deno.Signal, () => void][] = [];
  for (const [signal, action] of Object.entries(AGENT_SIGNALS) as [Deno.Signal, SignalAction][]) {
    const fn = () => onSignal(signal, action);
    Deno.addSignalListener(signal, fn);
    installed.push([signal, fn]);
  }
  return () => {
    for (const [signal, fn] of installed) Deno.removeSignalListener(signal, fn);
  };
}
