/**
 * What the built-in Node program (`polyagent masq-node`) needs from its process and its data
 * directory: the log file, its settings document (core's state store, in the data directory), the
 * readiness line on stdout, the panic line on stderr, and SIGTERM.
 */
import { join } from "node:path";
import {
  type JsonDocument,
  type Logger,
  type LogSink,
  type OpenDocumentOptions,
  StateStore,
  writeFileAtomic,
} from "../../core/mod.ts";

/** The Node's settings document in its data directory (`<dir>/polyagent-node.json`). */
export const NODE_DOCUMENT_NAME = "polyagent-node";

const encoder = new TextEncoder();

/** The Node's log file in its data directory. */
export const NODE_LOG_NAME = "polyagent-node.log";

/** Opens `<dir>/polyagent-node.log` (append) as a log sink. */
export async function openNodeLog(dataDir: string): Promise<LogSink> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = Deno.openSync(join(dataDir, NODE_LOG_NAME), {
    append: true,
    create: true,
    mode: 0o600,
  });
  return (line) => {
    try {
      file.writeSync(encoder.encode(line + "\n"));
    } catch {
      // the log file is best effort
    }
  };
}

/**
 * Earlier versions kept the settings as the bare value; wraps such a file in the state store's
 * envelope (version 1) so it is read, not moved aside. Unreadable files are left to the store.
 */
async function upgradeBareDocument(path: string): Promise<void> {
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch {
    return;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || "version" in value) {
    return;
  }
  const envelope = { version: 1, savedAt: new Date().toISOString(), data: value };
  await writeFileAtomic(path, JSON.stringify(envelope) + "\n", { mode: 0o600 });
}

/** Opens the Node's settings document in `dataDir` with core's state store. */
export async function openNodeDocument<T>(
  dataDir: string,
  options: OpenDocumentOptions<T>,
  log: Logger,
): Promise<JsonDocument<T>> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await upgradeBareDocument(join(dataDir, `${NODE_DOCUMENT_NAME}.json`));
  return await new StateStore(dataDir, log).open(NODE_DOCUMENT_NAME, options);
}

/** Prints the readiness line on stdout and closes stdout (the launcher's event). */
export function announceReady(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
  Deno.stdout.close();
}

/** Writes a line to stderr, ignoring a closed stderr. */
export function writeStderr(line: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr gone
  }
}

/** Calls `handler` on SIGTERM; returns the function that removes it. */
export function onTerminate(handler: () => void): () => void {
  Deno.addSignalListener("SIGTERM", handler);
  return () => Deno.removeSignalListener("SIGTERM", handler);
}
