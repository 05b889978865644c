/**
 * The agent's configuration: one TOML file, overridden by `POLYAGENT_<SECTION>_<KEY>` environment
 * variables and then by `--set section.key=value`, validated with zod. Every failure is a
 * {@linkcode ConfigError} whose message names the file and line, or the key path and what was
 * expected.
 */
import { parse as parseToml, stringify as stringifyToml, TomlError } from "smol-toml";
import { z } from "zod";
import { flag, millis, oneOf, pathString, section, showValue, text } from "./config_types.ts";
import type { AnyServiceDefinition } from "./service.ts";
import { nearest } from "./suggest.ts";

/** The `[agent]` section. */
export const agentSchema = section({
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
});

/** The parsed `[agent]` section. */
export type AgentSection = z.infer<typeof agentSchema>;

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
  definitions: readonly AnyServiceDefinition[];
}

// deno-lint-ignore no-explicit-any
type AnySchema = z.ZodType<any>;

/** The whole-file schema: `[agent]` plus one section per service; unknown sections are errors. */
export function buildConfigSchema(definitions: readonly AnyServiceDefinition[]) {
  const shape: Record<string, AnySchema> = { agent: agentSchema };
  for (const def of definitions) {
    if (shape[def.name]) throw new Error(`Duplicate service definition: "${def.name}"`);
    shape[def.name] = def.configSchema;
  }
  return z.strictObject(shape);
}

function unwrap(schema: unknown): AnySchema | undefined {
  // deno-lint-ignore no-explicit-any
  let s = schema as any;
  while (s?._zod?.def?.innerType) s = s._zod.def.innerType;
  return s;
}

/** The schema found at `path` inside an object schema, or undefined. */
function schemaAt(root: AnySchema, path: readonly PropertyKey[]): AnySchema | undefined {
  let s: AnySchema | undefined = unwrap(root);
  for (const key of path) {
    // deno-lint-ignore no-explicit-any
    const shape = (s as any)?._zod?.def?.shape;
    if (!shape || typeof key !== "string") return undefined;
    s = unwrap(shape[key]);
  }
  return s;
}

function knownKeys(root: AnySchema, path: readonly PropertyKey[]): string[] {
  // deno-lint-ignore no-explicit-any
  const shape = (schemaAt(root, path) as any)?._zod?.def?.shape;
  return shape ? Object.keys(shape) : [];
}

function typeAt(root: AnySchema, path: readonly PropertyKey[]): string | undefined {
  // deno-lint-ignore no-explicit-any
  return (schemaAt(root, path) as any)?._zod?.def?.type;
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
  sectionObject[key] = value;
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

function applySets(raw: Raw, root: AnySchema, sets: readonly string[]): void {
  for (const item of sets) {
    const eq = item.indexOf("=");
    const dotted = eq < 0 ? item : item.slice(0, eq);
    const dot = dotted.indexOf(".");
    if (eq < 0 || dot <= 0 || dot === dotted.length - 1) {
      throw new ConfigError(`--set ${item}: expected section.key=value`);
    }
    const sectionName = dotted.slice(0, dot);
    const key = dotted.slice(dot + 1);
    const wantsString = typeAt(root, [sectionName, key]) === "string";
    setPath(raw, sectionName, key, overrideValue(item.slice(eq + 1), wantsString));
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

/** Validates an already-parsed document (file content plus overrides). */
export function validateConfig(
  raw: Raw,
  definitions: readonly AnyServiceDefinition[],
  source: string,
): AgentConfig {
  const schema = buildConfigSchema(definitions);
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = formatIssues(schema, result.error.issues);
    throw new ConfigError(lines.map((line) => `${source}: ${line}`).join("\n"));
  }
  const { agent, ...services } = result.data as Raw;
  return { agent: agent as AgentSection, services: services as AgentConfig["services"], source };
}

/** Reads, overrides and validates the configuration. */
export async function loadConfig(options: LoadConfigOptions): Promise<AgentConfig> {
  const schema = buildConfigSchema(options.definitions);
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
  applyEnv(raw, schema, options.env ?? ((name) => Deno.env.get(name)));
  applySets(raw, schema, options.sets ?? []);
  return validateConfig(raw, options.definitions, source);
}

/** The effective configuration as TOML, defaults filled in. */
export function configToToml(config: AgentConfig): string {
  return stringifyToml({ agent: config.agent, ...config.services }) + "\n";
}
