/**
 * JSON text as json-c writes it (`json_object_to_json_string`, the original daemons' library):
 * `{ "key": value, … }`, `[ a, b ]`, `{ }` and `[ ]` when empty, and `/` escaped as `\/`. The real
 * clients print replies byte for byte, so both dialects answer in this form. Pure logic.
 *
 * Made from `JSON.stringify` (its escapes are json-c's, but for `/`) with native replaces only:
 * indented text has its line breaks (never inside a string: those are `\n`) turned into single
 * spaces, and `/` can only occur inside strings. Ten times faster than walking the value, which
 * matters for STATUS of a hundred profiles.
 */

/** A string literal, or an empty object or array. */
const STRING_OR_EMPTY = /"(?:[^"\\]|\\.)*"|\{\}|\[\]/g;

function spaceEmpty(token: string): string {
  return token === "{}" ? "{ }" : token === "[]" ? "[ ]" : token;
}

/** `value` as json-c's spaced JSON text (undefined members are left out, like JSON.stringify). */
export function jsoncText(value: unknown): string {
  let text = (JSON.stringify(value, null, 1) ?? "null").replace(/\n */g, " ");
  if (text.includes("/")) text = text.replaceAll("/", "\\/");
  if (text.includes("{}") || text.includes("[]")) text = text.replace(STRING_OR_EMPTY, spaceEmpty);
  return text;
}
