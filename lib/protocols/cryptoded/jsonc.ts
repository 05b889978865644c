/**
 * JSON text as json-c writes it (`json_object_to_json_string`, the original daemons' library):
 * `{ "key": value, … }`, `[ a, b ]`, `{ }` and `[ ]` when empty, and `/` escaped as `\/`. The real
 * clients print replies byte for byte, so both dialects answer in this form. Pure logic.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "/": "\\/",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** What json-c escapes: the quote, the backslash, the slash and the control characters. */
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /["\\/\u0000-\u001f]/g;

/** A JSON string literal as json-c escapes it. */
export function jsoncString(text: string): string {
  return `"${
    text.replace(NEEDS_ESCAPE, (c) =>
      ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
  }"`;
}

/** `value` as json-c's spaced JSON text (undefined members are left out, like JSON.stringify). */
export function jsoncText(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "string":
      return jsoncString(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      return "null";
  }
  if (Array.isArray(value)) {
    return value.length === 0 ? "[ ]" : `[ ${value.map(jsoncText).join(", ")} ]`;
  }
  const members = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${jsoncString(k)}: ${jsoncText(v)}`);
  return members.length === 0 ? "{ }" : `{ ${members.join(", ")} }`;
}
