/**
 * One logger for every service: JSON lines when stderr is not a terminal (or when asked),
 * readable coloured lines on a terminal. Every line names its service.
 */

/** Severity of a log line, from the most verbose. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** How lines are written: `auto` picks `text` on a terminal and `json` elsewhere. */
export type LogFormat = "auto" | "json" | "text";
/** Structured values attached to a line. */
export type LogFields = Record<string, unknown>;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const COLOURS: Record<LogLevel, string> = {
  debug: "\x1b[90m",
  info: "\x1b[36m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};

/** Where finished lines go; tests replace it to capture output. */
export type LogSink = (line: string) => void;

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** @default {"info"} */
  level?: LogLevel;
  /** @default {"auto"} */
  format?: LogFormat;
  /** @default writes to stderr */
  sink?: LogSink;
}

/** A logger bound to one service name. */
export interface Logger {
  readonly service: string;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The same logger, naming another service. */
  child(service: string): Logger;
  /** Whether a line at this level would be written. */
  enabled(level: LogLevel): boolean;
  /**
   * Changes the level at run time (sozu's LOGGING order), for this logger and every logger of
   * the same root.
   */
  setLevel(level: LogLevel): void;
}

const encoder = new TextEncoder();
function stderrSink(line: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed: nothing sensible left to do with a log line
  }
}

function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** Renders an error (with its cause chain) as a short string for a log field. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    let text = error.message || error.name;
    if (error.cause !== undefined) text += `: ${errorText(error.cause)}`;
    return text;
  }
  return String(error);
}

function jsonSafe(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error) out[key] = errorText(value);
    else if (typeof value === "bigint") out[key] = value.toString();
    else out[key] = value;
  }
  return out;
}

function textValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(errorText(value));
  if (typeof value === "string") return /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "bigint") return value.toString();
  return JSON.stringify(value) ?? String(value);
}

/** Creates the root logger; services get {@linkcode Logger.child}s of it. */
export function createLogger(service = "agent", options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const sink = options.sink ?? stderrSink;
  const format = options.format === "auto" || options.format === undefined
    ? (isTerminal() && !Deno.env.get("NO_COLOR") ? "text" : "json")
    : options.format;
  let minimum = LEVEL_RANK[level];

  function make(name: string): Logger {
    function write(lvl: LogLevel, msg: string, fields?: LogFields): void {
      if (LEVEL_RANK[lvl] < minimum) return;
      const ts = new Date().toISOString();
      if (format === "json") {
        sink(JSON.stringify({ ts, level: lvl, service: name, msg, ...jsonSafe(fields ?? {}) }));
        return;
      }
      const extra = fields
        ? Object.entries(fields).map(([k, v]) => ` ${k}=${textValue(v)}`).join("")
        : "";
      const tag = lvl.toUpperCase().padEnd(5);
      sink(`${ts.slice(11, 23)} ${COLOURS[lvl]}${tag}\x1b[0m [${name}] ${msg}${extra}`);
    }
    return {
      service: name,
      debug: (m, f) => write("debug", m, f),
      info: (m, f) => write("info", m, f),
      warn: (m, f) => write("warn", m, f),
      error: (m, f) => write("error", m, f),
      child: (other) => make(other),
      enabled: (lvl) => LEVEL_RANK[lvl] >= minimum,
      setLevel: (lvl) => {
        minimum = LEVEL_RANK[lvl];
      },
    };
  }
  return make(service);
}

/** A logger that drops everything; for pure-logic tests. */
export function silentLogger(service = "test"): Logger {
  return createLogger(service, { level: "error", format: "json", sink: () => {} });
}
