/**
 * Mutations of a valid frame, structure-aware first: at a node chosen with its schema it puts a
 * value of the wrong type, drops or adds a field (including `__proto__`), pushes numbers past
 * their bounds (huge, negative, fractional, beyond 2^53 and 2^64), breaks strings (empty, NUL,
 * lone surrogates, oversize, near misses of a valid value), nests 100 to 100,000 levels deep or
 * repeats a key. Then, on the encoded bytes: truncation, invalid UTF-8, NUL, garbage and broken
 * syntax. Each mutation returns a short label naming what it did (for reports and for counting).
 *
 * @module
 */
import { copyValue, deepNesting, DuplicateKeys, Raw, setOwn } from "./json_text.ts";
import type { Rng } from "./rng.ts";
import { type JsonSchema, schemaSites, type Site } from "./schema_values.ts";

type Path = (string | number)[];

function getAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const key of path) v = (v as Record<string | number, unknown>)[key];
  return v;
}

/** Replaces the node at `path` (the root when empty); returns the new root. */
function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  if (Array.isArray(parent)) parent[key as number] = value;
  else setOwn(parent as Record<string, unknown>, String(key), value);
  return root;
}

const WRONG_TYPES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  "",
  "x",
  "1",
  "true",
  [],
  [1, "a"],
  {},
  { a: 1 },
];

function wrongType(value: unknown, rng: Rng): unknown {
  const kind = (v: unknown) => v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
  const options = WRONG_TYPES.filter((v) => kind(v) !== kind(value));
  return copyValue(rng.pick(options));
}

function numberMutation(schema: JsonSchema | undefined, rng: Rng): unknown {
  const options: unknown[] = [
    -1,
    0,
    1.5,
    -2147483649,
    4294967296,
    new Raw("9007199254740993"),
    new Raw("18446744073709551616"),
    new Raw("123456789012345678901234567890"),
    new Raw("1e400"),
    new Raw("-1e400"),
    new Raw("-0"),
    new Raw("1e-400"),
    new Raw("NaN"),
    new Raw("0x10"),
    new Raw("01"),
    Number.MAX_VALUE,
  ];
  if (schema?.minimum !== undefined) options.push(schema.minimum - 1, schema.minimum);
  if (schema?.maximum !== undefined) options.push(schema.maximum + 1, schema.maximum);
  return rng.pick(options);
}

const TRICKY_STRINGS: readonly (string | Raw)[] = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\n",
  "\r\n",
  "\t",
  "../../../../etc/passwd",
  "/dev/zero",
  "%s%s%n",
  "${jndi:x}",
  "'; DROP TABLE x;--",
  "\u202e\u0644\u0627",
  "\ud83d\ude00\u00e9\u4e2d",
  new Raw('"\\ud800"'),
  new Raw('"\\udfff\\ud800"'),
  new Raw('"\\u0000"'),
  new Raw('"\\x41"'),
  "all",
  "ALL",
  "-rf",
  "--help",
  "0",
  "true",
  "null",
  "127.0.0.1",
  "[::1]:80",
  "*.",
  "*",
];

function longString(rng: Rng): string {
  const n = rng.pick([257, 1025, 4097, 65537, 70_000, 1_100_000]);
  return rng.pick(["a", "\u00e9", "/", "\u4e2d"]).repeat(n);
}

function nearMiss(value: string, rng: Rng): string {
  if (value === "") return rng.pick([" ", "a"]);
  const i = rng.int(value.length);
  switch (rng.int(6)) {
    case 0:
      return value.slice(0, i) + value.slice(i + 1);
    case 1:
      return value.slice(0, i) + rng.pick(["/", " ", ".", "..", "\u00ff", ":", "\\", "-"]) +
        value.slice(i);
    case 2:
      return value.toUpperCase() === value ? value.toLowerCase() : value.toUpperCase();
    case 3:
      return ` ${value} `;
    case 4:
      return value + value;
    default:
      return value.slice(0, i);
  }
}

function stringMutation(site: Site, rng: Rng): unknown {
  const r = rng.int(4);
  if (r === 0 && typeof site.value === "string") return nearMiss(site.value, rng);
  if (r === 1) return longString(rng);
  if (r === 2 && site.schema?.maxLength !== undefined && site.schema.maxLength < 70_000) {
    return "b".repeat(site.schema.maxLength + 1);
  }
  return rng.pick(TRICKY_STRINGS);
}

function deepValue(rng: Rng): Raw {
  return deepNesting(rng.pick([64, 1000, 10_000, 100_000]), rng.chance(0.5));
}

function hugeArray(rng: Rng): Raw {
  const n = rng.pick([1000, 10_000, 100_000]);
  return new Raw("[" + Array.from({ length: n }, (_, i) => i % 10).join(",") + "]");
}

const EXTRA_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "x"];

/** Adds a field, drops one, or repeats a key of the object at `site`. */
function objectMutation(root: unknown, site: Site, rng: Rng, label: string[]): unknown {
  const obj = site.value as Record<string, unknown>;
  const keys = Object.keys(obj);
  const op = keys.length === 0 ? 0 : rng.int(3);
  if (op === 0) {
    const key = rng.chance(0.6) ? rng.pick(EXTRA_KEYS) : `extra${rng.int(100)}`;
    setOwn(obj, key, rng.pick<unknown>([{ polluted: true }, 1, "x", null, [], { toString: 1 }]));
    label.push(`extra-field ${key}`);
    return root;
  }
  const required = site.schema?.required?.filter((k) => keys.includes(k)) ?? [];
  const key = required.length > 0 && rng.chance(0.7) ? rng.pick(required) : rng.pick(keys);
  if (op === 1) {
    delete obj[key];
    label.push(`missing-field ${key}`);
    return root;
  }
  const entries: [string, unknown][] = Object.entries(obj);
  entries.push([key, wrongType(obj[key], rng)]);
  if (rng.chance(0.5)) entries.reverse();
  label.push(`duplicate-key ${key}`);
  return setAt(root, site.path, new DuplicateKeys(entries));
}

/** Applies one structure-aware mutation at a random node; returns the new root. */
function mutateOnce(root: unknown, schema: JsonSchema | undefined, rng: Rng, label: string[]) {
  const sites = schemaSites(root, schema);
  const site = rng.pick(sites);
  const where = site.path.join(".") || "(root)";
  const isObject = site.value !== null && typeof site.value === "object" &&
    !Array.isArray(site.value) && !(site.value instanceof Raw) &&
    !(site.value instanceof DuplicateKeys);
  const op = rng.weighted<string>([
    [3, "wrong-type"],
    [isObject ? 4 : 0, "object"],
    [typeof site.value === "number" || site.schema?.type === "integer" ? 3 : 1, "number"],
    [typeof site.value === "string" ? 4 : 1, "string"],
    [site.schema?.enum || site.schema?.const !== undefined ? 2 : 0, "enum"],
    [1, "deep"],
    [Array.isArray(site.value) ? 2 : 0.3, "array"],
    [1, "null"],
  ]);
  switch (op) {
    case "object":
      return objectMutation(root, site, rng, label);
    case "number":
      label.push(`number ${where}`);
      return setAt(root, site.path, numberMutation(site.schema, rng));
    case "string":
      label.push(`string ${where}`);
      return setAt(root, site.path, stringMutation(site, rng));
    case "enum": {
      const v = String(site.value ?? site.schema?.const ?? "x");
      label.push(`enum ${where}`);
      return setAt(root, site.path, rng.pick([v.toLowerCase(), v.toUpperCase(), `${v}X`, ""]));
    }
    case "deep":
      label.push(`deep ${where}`);
      return setAt(root, site.path, deepValue(rng));
    case "array":
      label.push(`array ${where}`);
      return setAt(root, site.path, rng.chance(0.5) ? hugeArray(rng) : [wrongType(null, rng)]);
    case "null":
      label.push(`null ${where}`);
      return setAt(root, site.path, null);
    default:
      label.push(`wrong-type ${where}`);
      return setAt(root, site.path, wrongType(site.value, rng));
  }
}

/** One to three structure-aware mutations of a copy of `value`. */
export function mutateValue(
  value: unknown,
  schema: JsonSchema | undefined,
  rng: Rng,
): { value: unknown; label: string } {
  let root = copyValue(value);
  const label: string[] = [];
  const times = rng.weighted([[6, 1], [2, 2], [1, 3]] as const);
  for (let i = 0; i < times; i++) root = mutateOnce(root, schema, rng, label);
  return { value: root, label: label.join(", ") };
}

const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xc3],
  [0x80],
];

const encoder = new TextEncoder();

function splice(bytes: Uint8Array, at: number, remove: number, insert: ArrayLike<number>) {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

/** A byte-level mutation of an encoded frame. */
export function mutateBytes(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; label: string } {
  const at = rng.int(bytes.length + 1);
  const op = rng.int(8);
  switch (op) {
    case 0:
      return { bytes: bytes.slice(0, Math.max(0, at - 1)), label: `truncate at ${at}` };
    case 1:
      return { bytes: splice(bytes, at, 0, rng.pick(INVALID_UTF8)), label: "invalid-utf8" };
    case 2:
      return { bytes: splice(bytes, at, 0, [0]), label: "raw-nul" };
    case 3: {
      const n = Math.min(rng.range(1, 8), bytes.length - at);
      return { bytes: splice(bytes, at, n, rng.bytes(rng.range(1, 8))), label: "garbage" };
    }
    case 4: {
      const prefix = rng.pick(["\ufeff", " \t", "\u00a0", "\u2028", "//", "0"]);
      return { bytes: splice(bytes, 0, 0, encoder.encode(prefix)), label: "prefix" };
    }
    case 5: {
      const tail = rng.pick([",", "}", "]]]", "{", '{"a":1}', " x", "\r\n", "\\"]);
      return { bytes: splice(bytes, bytes.length, 0, encoder.encode(tail)), label: "trailing" };
    }
    case 6: {
      const text = new TextDecoder().decode(bytes);
      const broken = rng.pick([
        text.replaceAll('"', "'"),
        text.replace(/}$/, ",}"),
        text.replace(":", "::"),
        text.replace("{", "{/*c*/"),
      ]);
      return { bytes: encoder.encode(broken), label: "syntax" };
    }
    default:
      return { bytes: splice(bytes, at, 0, [rng.int(0x20)]), label: "control-char" };
  }
}

/** Whole frames that are not the protocol's object at all. */
export function foreignFrame(rng: Rng): { bytes: Uint8Array; label: string } {
  const choice = rng.int(9);
  const texts = ["null", "[]", '"text"', "42", "true", "", " ", "{}", "[{}]"];
  if (choice < 5) {
    const text = rng.pick(texts);
    return { bytes: encoder.encode(text), label: `foreign ${JSON.stringify(text)}` };
  }
  if (choice < 7) return { bytes: rng.bytes(rng.range(1, 64)), label: "random-bytes" };
  return { bytes: encoder.encode(deepValue(rng).text), label: "deep (root)" };
}
