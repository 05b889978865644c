/**
 * The built-in Node's data in its data directory: the database password (PBKDF2-SHA256 hash and
 * salt, never the password), its public key, and values changed by `setConfiguration`, kept in a
 * core state-store document (opened by the caller, in the data directory). Every change is
 * written atomically and durably before it is acknowledged.
 */
import { z } from "zod";
import type { JsonDocument, OpenDocumentOptions } from "../../../core/mod.ts";

const ITERATIONS = 100_000;

const nodeData = z.object({
  password: z.object({ salt: z.string(), hash: z.string(), iterations: z.number().int() })
    .nullable(),
  publicKey: z.string(),
  config: z.record(z.string(), z.string()),
});

/** What the Node keeps. */
export type NodeData = z.infer<typeof nodeData>;

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as Uint8Array<ArrayBuffer>, iterations },
    key,
    256,
  );
  return toBase64(new Uint8Array(bits));
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Opens a document the way `ServiceContext.openDocument` does (here: in the data directory). */
export type NodeDocumentOpener = (
  options: OpenDocumentOptions<NodeData>,
) => Promise<JsonDocument<NodeData>>;

function freshData(): NodeData {
  return {
    password: null,
    publicKey: toBase64(crypto.getRandomValues(new Uint8Array(32)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
    config: {},
  };
}

/** The Node's durable data. */
export class NodeStore {
  #doc: JsonDocument<NodeData>;

  private constructor(doc: JsonDocument<NodeData>) {
    this.#doc = doc;
  }

  /**
   * Opens the store through `open` (core's state store: a damaged document is moved aside and
   * the Node starts fresh); a fresh store is written at once, so its public key stays.
   */
  static async open(open: NodeDocumentOpener): Promise<NodeStore> {
    let fresh = false;
    const doc = await open({
      version: 1,
      empty: () => {
        fresh = true;
        return freshData();
      },
      parse: (data) => nodeData.parse(data),
    });
    if (fresh) await doc.write(doc.value);
    return new NodeStore(doc);
  }

  /** Where the data is kept. */
  get path(): string {
    return this.#doc.path;
  }

  /** The current data. */
  get data(): NodeData {
    return this.#doc.value;
  }

  /** Whether a password is stored. */
  get hasPassword(): boolean {
    return this.data.password !== null;
  }

  /** True when `password` matches (a fresh database matches only null). */
  async passwordMatches(password: string | null): Promise<boolean> {
    const stored = this.data.password;
    if (!stored) return password === null;
    if (password === null) return false;
    const hash = await derive(password, fromBase64(stored.salt), stored.iterations);
    return timingSafeEqual(hash, stored.hash);
  }

  /** Stores a new password hash. */
  async setPassword(password: string): Promise<void> {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const hash = await derive(password, salt, ITERATIONS);
    await this.#doc.write({
      ...this.data,
      password: { salt: toBase64(salt), hash, iterations: ITERATIONS },
    });
  }

  /** Stores one configuration value. */
  async setConfig(name: string, value: string): Promise<void> {
    await this.#doc.write({ ...this.data, config: { ...this.data.config, [name]: value } });
  }
}
