/**
 * The built-in Node's data in its data directory: the database password (PBKDF2-SHA256 hash and
 * salt, never the password), its public key, and values changed by `setConfiguration`. Every
 * change is written atomically and durably before it is acknowledged.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../../core/mod.ts";
import { z } from "zod";

const ITERATIONS = 100_000;
const FILE = "polyagent-node.json";

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

/** The Node's durable data. */
export class NodeStore {
  readonly path: string;
  #data: NodeData;

  private constructor(path: string, data: NodeData) {
    this.path = path;
    this.#data = data;
  }

  /** Opens (creating) the store in `dir`. */
  static async open(dir: string): Promise<NodeStore> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, FILE);
    let data: NodeData | null = null;
    let text: string | null = null;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (text !== null) {
      try {
        data = nodeData.parse(JSON.parse(text));
      } catch {
        // Unreadable (writes are atomic, so only outside damage does this): keep it aside.
        await Deno.rename(path, `${path}.corrupt-${Date.now()}`);
      }
    }
    const store = new NodeStore(
      path,
      data ?? {
        password: null,
        publicKey: toBase64(crypto.getRandomValues(new Uint8Array(32)))
          .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
        config: {},
      },
    );
    if (!data) await store.#write(store.#data);
    return store;
  }

  /** The current data. */
  get data(): NodeData {
    return this.#data;
  }

  /** Whether a password is stored. */
  get hasPassword(): boolean {
    return this.#data.password !== null;
  }

  /** True when `password` matches (a fresh database matches only null). */
  async passwordMatches(password: string | null): Promise<boolean> {
    const stored = this.#data.password;
    if (!stored) return password === null;
    if (password === null) return false;
    const hash = await derive(password, fromBase64(stored.salt), stored.iterations);
    return timingSafeEqual(hash, stored.hash);
  }

  /** Stores a new password hash. */
  async setPassword(password: string): Promise<void> {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const hash = await derive(password, salt, ITERATIONS);
    await this.#write({
      ...this.#data,
      password: { salt: toBase64(salt), hash, iterations: ITERATIONS },
    });
  }

  /** Stores one configuration value. */
  async setConfig(name: string, value: string): Promise<void> {
    await this.#write({ ...this.#data, config: { ...this.#data.config, [name]: value } });
  }

  async #write(data: NodeData): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(data) + "\n", { mode: 0o600 });
    this.#data = data;
  }
}
