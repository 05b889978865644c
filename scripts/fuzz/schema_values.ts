/**
 * Values from zod schemas: each wire schema is turned into JSON Schema (zod's own converter, the
 * input side of transforms) and walked to build a value that fits it. Strings the schema can only
 * describe with a pattern (names, addresses, ids) come from per-field pools of known-valid values
 * taken from each protocol's examples. {@linkcode schemaSites} pairs every node of a value with
 * its schema, for the mutator.
 *
 * @module
 */
import { z } from "zod";
import type { Rng } from "./rng.ts";
import { setOwn } from "./json_text.ts";

/** The part of JSON Schema zod produces that the generator reads. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  additionalProperties?: JsonSchema | boolean;
}

/** Known-valid values by field name (the protocol's examples). */
export type ValuePools = Readonly<Record<string, readonly unknown[]>>;

/** The JSON Schema of a zod schema's input side. */
export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as
    & JsonSchema
    & { $schema?: string };
  delete out.$schema;
  return out;
}

function types(schema: JsonSchema): string[] {
  if (schema.type === undefined) return [];
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomWord(rng: Rng, min = 1, max = 12): string {
  const n = rng.range(Math.max(min, 0), Math.max(min, max));
  let s = "";
  for (let i = 0; i < n; i++) s += ALNUM[rng.int(ALNUM.length)];
  return s;
}

function stringValue(schema: JsonSchema, rng: Rng): string {
  if (schema.format === "ipv4") return `10.${rng.int(256)}.${rng.int(256)}.${rng.range(1, 254)}`;
  if (schema.format === "ipv6") return `fd42::${rng.int(0xffff).toString(16)}`;
  return randomWord(rng, schema.minLength ?? 1, Math.min(schema.maxLength ?? 12, 12));
}

function numberValue(schema: JsonSchema, rng: Rng, integer: boolean): number {
  const lo = Math.max(schema.minimum ?? 0, -1000);
  const hi = Math.min(schema.maximum ?? 1000, Math.max(lo, 0) + 1000);
  const n = lo + rng.next() * (hi - lo);
  return integer ? Math.round(n) : Math.round(n * 100) / 100;
}

function objectValue(
  schema: JsonSchema,
  rng: Rng,
  pools: ValuePools,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const required = new Set(schema.required ?? []);
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    if (!required.has(name) && !rng.chance(0.6)) continue;
    setOwn(out, name, generateValue(sub, rng, pools, name, depth + 1));
  }
  if (!schema.properties && typeof schema.additionalProperties === "object" && rng.chance(0.5)) {
    setOwn(out, randomWord(rng), generateValue(schema.additionalProperties, rng, pools, "", depth));
  }
  return out;
}

/** A value that fits `schema` (pool values for named fields where the pool has them). */
export function generateValue(
  schema: JsonSchema,
  rng: Rng,
  pools: ValuePools,
  field = "",
  depth = 0,
): unknown {
  const pool = pools[field];
  if (pool && pool.length > 0 && rng.chance(0.85)) return pool[rng.int(pool.length)];
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return rng.pick(schema.enum);
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches && branches.length > 0) {
    const real = branches.filter((b) => !types(b).includes("null"));
    const choice = real.length > 0 && rng.chance(0.85) ? rng.pick(real) : rng.pick(branches);
    return generateValue(choice, rng, pools, field, depth);
  }
  const options = types(schema);
  const nonNull = options.filter((t) => t !== "null");
  const type = nonNull.length > 0 && rng.chance(0.85) ? rng.pick(nonNull) : options[0];
  switch (type) {
    case "null":
      return null;
    case "boolean":
      return rng.chance(0.5);
    case "integer":
      return numberValue(schema, rng, true);
    case "number":
      return numberValue(schema, rng, false);
    case "string":
      return stringValue(schema, rng);
    case "array": {
      if (depth > 6) return [];
      const n = rng.range(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3));
      return Array.from({ length: n }, () => generateValue(schema.items ?? {}, rng, pools, field));
    }
    case "object":
      return depth > 6 ? {} : objectValue(schema, rng, pools, depth);
    default:
      return rng.pick([null, true, 1, "x", {}, []]);
  }
}

/** One node of a value: where it is and the schema it should fit (undefined when unknown). */
export interface Site {
  path: (string | number)[];
  value: unknown;
  schema: JsonSchema | undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** The branch of a union that a value's JSON type fits best. */
function branchFor(schema: JsonSchema | undefined, value: unknown): JsonSchema | undefined {
  const branches = schema?.anyOf ?? schema?.oneOf;
  if (!branches) return schema;
  const t = jsonType(value);
  return branches.find((b) => {
    const ts = types(b);
    return ts.includes(t) || (t === "integer" && ts.includes("number"));
  }) ?? branches[0];
}

/** Every node of `value` with its schema, the root first. */
export function schemaSites(value: unknown, schema: JsonSchema | undefined): Site[] {
  const out: Site[] = [];
  const walk = (v: unknown, s: JsonSchema | undefined, path: (string | number)[]) => {
    const fit = branchFor(s, v);
    out.push({ path, value: v, schema: fit });
    if (path.length > 8) return;
    if (Array.isArray(v)) v.forEach((item, i) => walk(item, fit?.items, [...path, i]));
    else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [k, item] of Object.entries(v)) walk(item, fit?.properties?.[k], [...path, k]);
    }
  };
  walk(value, schema, []);
  return out;
}
