/**
 * The agent's configuration: one TOML file, overridden by `POLYAGENT_<SECTION>_<KEY>` environment
 * variables and then by `--set section.key=value`, validated with zod. Every failure is a
 * {@linkcode ConfigError} whose message names the file and line, or the key path and what was
 * expected.
 */
import { parse as parseToml, stringify as stringifyToml, TomlError } from "smol-toml";
import { z } from "zod";
import { flag, millis, oneOf, pathString, section, showValue, text } from "./config_types.ts";
import { nearest } from "./suggest.ts";

/** The `[agent]` section. */
export function agentSchema() {
  return section({
    /** Where services keep their documents. */
    state_dir: pathString().default("/var/lib/polyagent"),
    /** Where sockets and pid files go. */
    run_dir: pathString().default("/run/polyagent"),
    /** Where per-process and service log files go. */
    log_dir: pathString().default("/var/log/polyagent"),
    log_level: oneOf(["debug", "info", "warn", "error"]).default("info"),
    log_format: oneOf(["auto", "json", "text"]).default("auto"),
    /** Unprivileged user that children run as when the agent is root ("" = do not switch). */
    user: text().default(""),
    /** Group for children and for group-shared sockets ("" = none). */
    group: text().default(""),
    /** Stop the agent when any service fails to start. */
    fail_fast: flag().default(false),
    /** Budget for stopping every service on SIGTERM. */
    shutdown_timeout_ms: millis(100, 60_000).default(2000),
    /** The agent's pid file ("" = none); a successor rewrites it when it takes over. */
    pid_file: text().default(""),
    /** Time an upgrade's successor has to get ready, and then to take over. */
    upgrade_timeout_ms: millis(1000, 600_000).default(30_000),
    /**
     * Before an upgrade moves listeners, set net.ipv4.tcp_migrate_req=1 (Linux 5.14+, root only)
     * so connections queued on a closing listener move to the successor's instead of being reset.
     */
    tcp_migrate_req: flag().default(true),
  });
}

/** The parsed `[agent]` section. */
export type AgentSection = z.infer<ReturnType<typeof agentSchema>>;

/** A validated configuration. */
export interface AgentConfig {
  agent: AgentSection;
  /** Each service section by name, defaults filled in. */
  services: Record<string, { enabled: boolean } & Record<string, unknown>>;
  /** Where it came from: a file path or "built-in defaults". */
  source: string;
}

/** The default config file location. */
export const DEFAULT_CONFIG_PATH = "/etc/polyagent/polyagent.toml";

/** A configuration problem, already phrased for the operator. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Options for {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** The file to read; when absent the default path is used if it exists. */
  file?: string | undefined;
  /** `section.key=value` overrides, applied last. */
  sets?: string[];
  /** Reads environment variables; replaceable in tests. @default Deno.env.get */
  env?: (name: string) => string | undefined;
  /** The services compiled in. */
  definitions: readonly ConfigSectionSource[];
  /**
   * "all" (default) validates every service's section, filling its defaults; "used" skips the
   * sections of services that are disabled by default and named nowhere (not in the file, not
   * by `--set`, no `POLYAGENT_<SECTION>_ENABLED`): they come back as `{ enabled: false }`
   * without their schemas being loaded. `serve` uses "used".
   */
  sections?: "all" | "used";
}

// deno-lint-ignore no-explicit-any
type AnySchema = z.ZodType<any>;

/**
 * What the config loader needs of a service: the name of its section and how to build the
 * section's schema. A service definition is one; the loader needs nothing else of it.
 */
export interface ConfigSectionSource<C = unknown> {
  /** Config section name; also the service name in logs. */
  readonly name: string;
  /**
   * Builds the section schema (see {@linkcode section}), which fills every default. A factory
   * that may load its module lazily: `serve` builds only the sections the config uses, so an
   * agent does not load or keep the schemas of services it does not run (together about 8 MB).
   */
  readonly configSchema: () => z.ZodType<C> | Promise<z.ZodType<C>>;
  /** The section is used when it appears nowhere (only `[admin]`). @default false */
  readonly enabledByDefault?: boolean;
}

/** The whole-file schema and the sections it left out. */
interface ConfigSchema {
  schema: AnySchema;
  /** Services whose section was not built: absent everywhere, so only `enabled = false`. */
  skipped: string[];
}

/**
 * The whole-file schema: `[agent]` plus one section per service that `include` selects; unknown
 * sections are errors.
 */
async function buildConfigSchema(
  definitions: readonly ConfigSectionSource[],
  include: (def: ConfigSectionSource) => boolean,
): Promise<ConfigSchema> {
  const shape: Record<string, AnySchema> = { agent: agentSchema() };
  const seen = new Set<string>();
  const skipped: string[] = [];
  for (const def of definitions) {
    if (seen.has(def.name) || def.name === "agent") {
      throw new Error(`Duplicate service definition: "${def.name}"`);
    }
    seen.add(def.name);
    if (include(def)) shape[def.name] = await def.configSchema();
    else skipped.push(def.name);
  }
  return { schema: z.strictObject(shape), skipped };
}

/** Strips the wrappers a section or key may carry (prefault, default, optional, nullable). */
function unwrap(schema: AnySchema | undefined): AnySchema | undefined {
  let s = schema;
  while (
    s instanceof z.ZodPrefault || s instanceof z.ZodDefault || s instanceof z.ZodOptional ||
    s instanceof z.ZodNullable
  ) s = s.unwrap() as AnySchema;
  return s;
}

/** The schema found at `path` inside an object schema, or undefined. */
function schemaAt(root: AnySchema, path: readonly PropertyKey[]): AnySchema | undefined {
  let s = unwrap(root);
  for (const key of path) {
    if (!(s instanceof z.ZodObject) || typeof key !== "string") return undefined;
    s = unwrap(s.shape[key] as AnySchema | undefined);
  }
  return s;
}

function knownKeys(root: AnySchema, path: readonly PropertyKey[]): string[] {
  const s = schemaAt(root, path);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function typeAt(root: AnySchema, path: readonly PropertyKey[]): string | undefined {
  return schemaAt(root, path)?.type;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

/** Turns zod issues into operator-facing lines. */
export function formatIssues(root: AnySchema, issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const where = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const at = where ? `${where}.${key}` : key;
        const hint = nearest(key, knownKeys(root, issue.path));
        const kind = issue.path.length === 0 ? "unknown section" : "unknown key";
        lines.push(`${at}: ${kind}${hint ? `, did you mean "${hint}"?` : ""}`);
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === "invalid_type" && !message.startsWith("expected ")) {
      message = `expected ${issue.expected}, got ${showValue(issue.input)}`;
    }
    lines.push(where ? `${where}: ${message}` : message);
  }
  return lines;
}

/** Parses an override value: a TOML value when it is one (and the key is not a string key). */
function overrideValue(raw: string, wantsString: boolean): unknown {
  if (wantsString) return raw;
  try {
    return (parseToml(`v = ${raw}`) as { v: unknown }).v;
  } catch {
    return raw;
  }
}

type Raw = Record<string, unknown>;

function setPath(target: Raw, sectionName: string, key: string, value: unknown): void {
  const existing = target[sectionName];
  const sectionObject: Raw =
    typeof existing === "object" && existing !== null && !Array.isArray(existing)
      ? existing as Raw
      : {};
  const [first, ...rest] = key.split(".");
  if (rest.length === 0) sectionObject[key] = value;
  else setPath(sectionObject, first!, rest.join("."), value); // `--set sozu.limits.key=…`
  target[sectionName] = sectionObject;
}

/** Applies `POLYAGENT_<SECTION>_<KEY>` variables for every known section key. */
function applyEnv(raw: Raw, root: AnySchema, env: (name: string) => string | undefined): void {
  for (const sectionName of knownKeys(root, [])) {
    for (const key of knownKeys(root, [sectionName])) {
      const name = `POLYAGENT_${sectionName}_${key}`.toUpperCase();
      const value = env(name);
      if (value === undefined) continue;
      setPath(
        raw,
        sectionName,
        key,
        overrideValue(value, typeAt(root, [sectionName, key]) === "string"),
      );
    }
  }
}

interface SetOverride {
  sectionName: string;
  key: string;
  value: string;
}

/** Splits a `--set section.key=value` item. */
function parseSet(item: string): SetOverride {
  const eq = item.indexOf("=");
  const dotted = eq < 0 ? item : item.slice(0, eq);
  const dot = dotted.indexOf(".");
  if (eq < 0 || dot <= 0 || dot === dotted.length - 1) {
    throw new ConfigError(`--set ${item}: expected section.key=value`);
  }
  return {
    sectionName: dotted.slice(0, dot),
    key: dotted.slice(dot + 1),
    value: item.slice(eq + 1),
  };
}

function applySets(raw: Raw, root: AnySchema, sets: readonly SetOverride[]): void {
  for (const { sectionName, key, value } of sets) {
    const wantsString = typeAt(root, [sectionName, ...key.split(".")]) === "string";
    setPath(raw, sectionName, key, overrideValue(value, wantsString));
  }
}

async function readFileOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new ConfigError(`${path}: cannot read: ${(error as Error).message}`);
  }
}

/** Parses TOML text, reporting syntax errors with file and line. */
export function parseConfigText(textValue: string, file: string): Raw {
  try {
    return parseToml(textValue) as Raw;
  } catch (error) {
    if (error instanceof TomlError) {
      const first = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(`${file}:${error.line}:${error.column}: ${first}`);
    }
    throw new ConfigError(`${file}: ${(error as Error).message}`);
  }
}

function validate(raw: Raw, built: ConfigSchema, source: string): AgentConfig {
  const result = built.schema.safeParse(raw);
  if (!result.success) {
    const lines = formatIssues(built.schema, result.error.issues);
    throw new ConfigError(lines.map((line) => `${source}: ${line}`).join("\n"));
  }
  const { agent, ...services } = result.data as Raw;
  for (const name of built.skipped) services[name] = { enabled: false };
  return { agent: agent as AgentSection, services: services as AgentConfig["services"], source };
}

/** Reads, overrides and validates the configuration. */
export async function loadConfig(options: LoadConfigOptions): Promise<AgentConfig> {
  let raw: Raw = {};
  let source = "built-in defaults";
  const path = options.file ?? DEFAULT_CONFIG_PATH;
  const content = await readFileOrNull(path);
  if (content === null && options.file !== undefined) {
    throw new ConfigError(`${path}: no such file`);
  }
  if (content !== null) {
    raw = parseConfigText(content, path);
    source = path;
  }
  const env = options.env ?? ((name) => Deno.env.get(name));
  const sets = (options.sets ?? []).map(parseSet);
  const named = new Set(sets.map((s) => s.sectionName));
  // In "used" mode a service whose section appears nowhere is disabled and its schema (and the
  // module that builds it) is never loaded.
  const include = options.sections === "used"
    ? (def: ConfigSectionSource) =>
      def.enabledByDefault === true || Object.hasOwn(raw, def.name) || named.has(def.name) ||
      env(`POLYAGENT_${def.name}_ENABLED`.toUpperCase()) !== undefined
    : () => true;
  const built = await buildConfigSchema(options.definitions, include);
  applyEnv(raw, built.schema, env);
  applySets(raw, built.schema, sets);
  return validate(raw, built, source);
}

/** The effective configuration as TOML, defaults filled in. */
export function configToToml(config: AgentConfig): string {
  return stringifyToml({ agent: config.agent, ...config.services }) + "\n";
}
