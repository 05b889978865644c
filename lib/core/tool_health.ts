/**
 * Whether a service's backend tools answer, for `/healthz`: a command that timed out or could not
 * start marks the backend "degraded" until a later command succeeds; every failure (also a
 * non-zero exit status) is kept as `lastError` with its time.
 */
import { CommandError, type CommandRunner } from "./command_runner.ts";
import { errorText } from "./log.ts";

/** A backend's state as `/healthz` shows it. */
export interface BackendState {
  state: "ok" | "degraded";
  /** The last command failure (timed out, could not run, or failed). */
  lastError?: string;
  /** When it happened (ISO 8601). */
  lastErrorAt?: string;
}

/** Tracks the outcome of a service's backend commands. */
export class ToolHealth {
  #state: BackendState = { state: "ok" };
  readonly #onChange: () => void;

  /** `onChange` runs whenever the state or the last error changes. */
  constructor(onChange: () => void = () => {}) {
    this.#onChange = onChange;
  }

  /** The current state (a copy). */
  get current(): BackendState {
    return { ...this.#state };
  }

  /** Records a command that succeeded. */
  succeeded(): void {
    if (this.#state.state === "ok") return;
    this.#state = { ...this.#state, state: "ok" };
    this.#onChange();
  }

  /** Records a failure; `degraded` when the backend did not answer (timeout, cannot run). */
  failed(error: unknown, degraded: boolean): void {
    const lastError = errorText(error).slice(0, 500);
    this.#state = {
      state: degraded ? "degraded" : this.#state.state,
      lastError,
      lastErrorAt: new Date().toISOString(),
    };
    this.#onChange();
  }

  /** A runner that records the outcome of every command it runs. */
  wrap(runner: CommandRunner): CommandRunner {
    return async (argv, options) => {
      try {
        const result = await runner(argv, options);
        this.succeeded();
        return result;
      } catch (error) {
        const unanswered = !(error instanceof CommandError) || error.timedOut ||
          error.code === null;
        this.failed(error, unanswered);
        throw error;
      }
    };
  }
}
