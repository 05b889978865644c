/**
 * Building blocks for config schemas. Each one carries an "expected …" message so a bad value
 * is reported as `section.key: expected …, got <value>` rather than as a zod internal.
 */
import { z } from "zod";

/** Renders a received value the way config errors quote it. */
export function showValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return value.toString();
  try {
    const text = JSON.stringify(value);
    return text.length > 60 ? text.slice(0, 57) + "..." : text;
  } catch {
    return String(value);
  }
}

function expect(what: string) {
  return {
    error: (issue: { input?: unknown }) => `expected ${what}, got ${showValue(issue.input)}`,
  };
}

/** A whole number in `[min, max]`. */
export function wholeNumber(min: number, max: number): z.ZodNumber {
  const e = expect(`a whole number from ${min} to ${max}`);
  return z.number(e).int(e).min(min, e).max(max, e);
}

/** `true` or `false`. */
export function flag(): z.ZodBoolean {
  return z.boolean(expect("true or false"));
}

/** Any string (possibly empty). */
export function text(): z.ZodString {
  return z.string(expect("a string"));
}

/** A filesystem path (non-empty string, no NUL). */
export function pathString(): z.ZodString {
  const e = expect("a path");
  return z.string(e).min(1, e).refine((s) => !s.includes("\0"), e);
}

/** One of a fixed list of strings. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, expect(`one of ${values.map((v) => JSON.stringify(v)).join(", ")}`));
}

/** A list of strings. */
export function stringList(): z.ZodArray<z.ZodString> {
  return z.array(text(), expect("a list of strings"));
}

/** Duration in milliseconds. */
export function millis(min = 0, max = 86_400_000): z.ZodNumber {
  return wholeNumber(min, max);
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** A listen address `host:port` or `[v6]:port`, port 0–65535. */
export function listenAddress(): z.ZodString {
  const e = expect(`an address "host:port"`);
  return z.string(e).refine((s) => {
    const m = HOST_PORT.exec(s);
    return m !== null && Number(m[2]) <= 65535;
  }, e);
}

/** Splits `host:port` (IPv6 in brackets) into its parts. */
export function splitHostPort(address: string): { hostname: string; port: number } {
  const m = HOST_PORT.exec(address);
  if (!m) throw new TypeError(`Invalid address "${address}": expected "host:port"`);
  const host = m[1]!;
  return {
    hostname: host.startsWith("[") ? host.slice(1, -1) : host,
    port: Number(m[2]),
  };
}

/**
 * A config section: a strict object (unknown keys are errors) that fills every default when the
 * section is absent. Every section has `enabled`.
 */
export function section<S extends z.ZodRawShape>(
  shape: S,
): z.ZodPrefault<z.ZodObject<S, z.core.$strict>> {
  return z.strictObject(shape).prefault({} as never);
}
