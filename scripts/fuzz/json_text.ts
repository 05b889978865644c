/**
 * JSON text for fuzz frames: values may hold {@linkcode Raw} pieces that are written as they are
 * (numbers JSON cannot round-trip, nesting too deep to build as objects, duplicate keys, broken
 * syntax), so a mutation can say "here, put these exact characters".
 *
 * @module
 */

/** Text written verbatim in place of a value. */
export class Raw {
  /** The exact JSON (or not-JSON) characters. */
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** An object whose keys may repeat (written in order). */
export class DuplicateKeys {
  /** The entries, in order, repeats allowed. */
  readonly entries: readonly (readonly [string, unknown])[];
  constructor(entries: readonly (readonly [string, unknown])[]) {
    this.entries = entries;
  }
}

/** `depth` nested arrays (or objects) around `inner`, as text. */
export function deepNesting(depth: number, objects: boolean, inner = "1"): Raw {
  if (objects) return new Raw('{"a":'.repeat(depth) + inner + "}".repeat(depth));
  return new Raw("[".repeat(depth) + inner + "]".repeat(depth));
}

/** Writes a value as JSON text; {@linkcode Raw} and {@linkcode DuplicateKeys} as they say. */
export function toJsonText(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof DuplicateKeys) {
    return "{" + value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(",") +
      "}";
  }
  if (Array.isArray(value)) return "[" + value.map((v) => toJsonText(v ?? null)).join(",") + "]";
  if (typeof value === "bigint") return value.toString();
  if (value !== null && typeof value === "object") {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${toJsonText(v)}`);
    }
    return "{" + parts.join(",") + "}";
  }
  return JSON.stringify(value) ?? "null";
}

/** A deep copy of plain JSON-like data (Raw and DuplicateKeys are shared, they are immutable). */
export function copyValue<T>(value: T): T {
  if (value instanceof Raw || value instanceof DuplicateKeys) return value;
  if (Array.isArray(value)) return value.map(copyValue) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, copyValue(v));
    return out as T;
  }
  return value;
}

/** Sets an own property, even one named `__proto__`. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
