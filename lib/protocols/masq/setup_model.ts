/**
 * The Daemon's setup cluster as pure logic: which values are Set by UIs or Configured from the
 * Node's database, what every parameter reports (value and status), how a `setup` request changes
 * the cluster, censoring, and the Node's command-line arguments.
 */
import { DEFAULT_CHAIN, PARAMS_BY_NAME, SETUP_PARAMS, type SetupContext } from "./setup_params.ts";

/** Status strings exactly as the real Daemon writes them. */
export type SetupStatus = "Default" | "Configured" | "Set" | "Blank" | "Required";

/** One reported parameter. */
export interface SetupValue {
  name: string;
  value: string;
  status: SetupStatus;
}

/** The stored cluster: values Set by UIs and values Configured from the Node's database. */
export interface SetupState {
  set: Record<string, string>;
  configured: Record<string, string>;
}

/** One requested change; a null value clears the parameter. */
export interface SetupChange {
  name: string;
  value: string | null;
}

/** Facts of the host a cluster's defaults depend on. */
export type HostFacts = Omit<SetupContext, "chain" | "neighborhoodMode">;

/** The result of applying a setup request. */
export interface SetupOutcome {
  state: SetupState;
  /** Uncensored, sorted by name. */
  values: SetupValue[];
  errors: [string, string][];
  /** Whether any parameter's value changed (a status change alone does not count). */
  changed: boolean;
}

function effective(state: SetupState, name: string): string | undefined {
  return state.set[name] ?? state.configured[name];
}

/** Every parameter's value and status, sorted by name. */
export function reportSetup(state: SetupState, host: HostFacts): SetupValue[] {
  const ctx: SetupContext = {
    ...host,
    chain: effective(state, "chain") ?? DEFAULT_CHAIN,
    neighborhoodMode: effective(state, "neighborhood-mode") ?? "standard",
  };
  return SETUP_PARAMS.map((spec): SetupValue => {
    const set = state.set[spec.name];
    if (set !== undefined) return { name: spec.name, value: set, status: "Set" };
    const configured = state.configured[spec.name];
    if (configured !== undefined) {
      return { name: spec.name, value: configured, status: "Configured" };
    }
    const def = spec.defaultValue(ctx);
    if (def !== null) return { name: spec.name, value: def, status: "Default" };
    return { name: spec.name, value: "", status: spec.required(ctx) ? "Required" : "Blank" };
  });
}

function sameValues(a: readonly SetupValue[], b: readonly SetupValue[]): boolean {
  return a.length === b.length &&
    a.every((v, i) => v.name === b[i]?.name && v.value === b[i]?.value);
}

/**
 * Applies a request: valid values become Set, null clears a Set value. A value that fails its
 * check is dropped and reported; when there are errors, values the request blanked are restored.
 */
export function applySetup(
  state: SetupState,
  changes: readonly SetupChange[],
  host: HostFacts,
): SetupOutcome {
  const errors: [string, string][] = [];
  const sets = new Map<string, string>();
  const clears = new Set<string>();
  for (const change of changes) {
    const spec = PARAMS_BY_NAME.get(change.name);
    if (!spec) {
      errors.push([
        "<unknown>",
        `Unfamiliar message: Found argument '--${change.name}' which wasn't expected`,
      ]);
      continue;
    }
    if (change.value === null || change.value === "") {
      sets.delete(change.name);
      clears.add(change.name);
      continue;
    }
    const problem = spec.check(change.value, host);
    if (problem !== null) {
      errors.push([change.name, problem]);
      continue;
    }
    clears.delete(change.name);
    sets.set(change.name, change.value);
  }
  const next: SetupState = { set: { ...state.set }, configured: { ...state.configured } };
  if (errors.length === 0) { for (const name of clears) delete next.set[name]; }
  for (const [name, value] of sets) next.set[name] = value;
  const before = reportSetup(state, host);
  const values = reportSetup(next, host);
  return { state: next, values, errors, changed: !sameValues(before, values) };
}

/**
 * Hides `db-password` (16 `*`) and `consuming-private-key` (64 `*`) whatever their value, even
 * when blank (as the real Daemon does: nobody learns whether one is set).
 */
export function censor(values: readonly SetupValue[]): SetupValue[] {
  return values.map((v) => {
    const length = PARAMS_BY_NAME.get(v.name)?.censorLength;
    return length !== undefined ? { ...v, value: "*".repeat(length) } : v;
  });
}

/** The Node's arguments: Set and Configured values plus `ui-port`, as sorted `--name value`. */
export function launchArguments(values: readonly SetupValue[], uiPort: number): string[] {
  const pairs: [string, string][] = values
    .filter((v) => v.status === "Set" || v.status === "Configured")
    .map((v) => [v.name, v.value]);
  pairs.push(["ui-port", String(uiPort)]);
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return pairs.flatMap(([name, value]) => [`--${name}`, value]);
}
