/**
 * The sticky cookie reader (sticky.ts `stickyRequest`) works on the request's bytes; this checks
 * it against the plain string reading it replaced (kept here as the reference) over generated
 * heads: Cookie lines with the sticky cookie, near-miss names, blanks, empty parts, parts without
 * `=`, several Cookie lines and other dropped lines (Connection) around them, the head at the
 * buffer's start or after other bytes (as a pipelined one is).
 */
import assert from "node:assert/strict";
import { createRandom } from "../../lib/backends/http_proxy/prng.ts";
import { latin1 } from "../../lib/backends/http_proxy/head_bytes.ts";
import {
  findHeadEnd,
  parseRequestHead,
  type RequestHead,
} from "../../lib/backends/http_proxy/request_head.ts";
import { stickyRequest, type StickyState } from "../../lib/backends/http_proxy/sticky.ts";

const NAME = "SOZUBALANCEID";

/** The string reading stickyRequest replaced: value, kept cookie line, drops. */
function reference(head: RequestHead, buf: Uint8Array, name: string) {
  const lines: number[] = [];
  let pos = head.cookieAt;
  while (head.cookieAt >= 0 && pos < head.length - 2) {
    const eol = buf.indexOf(13, pos);
    const line = latin1(buf, pos, eol);
    if (/^cookie:/i.test(line)) lines.push(pos, eol + 2);
    pos = eol + 2;
  }
  let value: string | null = null;
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const line = latin1(buf, lines[i]!, lines[i + 1]! - 2);
    for (const part of line.slice(line.indexOf(":") + 1).split(";")) {
      const pair = part.trim();
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      if (eq >= 0 && pair.slice(0, eq).trim() === name) value ??= pair.slice(eq + 1).trim();
      else kept.push(pair);
    }
  }
  const pairs: [number, number][] = [];
  const drops = head.drops.concat(lines);
  for (let i = 0; i < drops.length; i += 2) pairs.push([drops[i]!, drops[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  return {
    value,
    cookieLine: kept.length > 0 ? `Cookie: ${kept.join("; ")}\r\n` : "",
    drops: head.cookieAt < 0 ? head.drops : pairs.flat(),
  };
}

Deno.test("sticky cookie reader: the same value, kept cookies and drops as the string reference", () => {
  const random = createRandom(12);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const names = [NAME, NAME, "other", "SOZUBALANCEIDX", "sozubalanceid", "a", `${NAME} `, ""];
  const values = ["b0", "", " sticky-c ", "x=y", "\t42", "v a l"];
  const blanks = ["", " ", "  ", "\t", " \t"];
  const part = () =>
    random() < 0.15
      ? pick(["", "flag", " ", NAME])
      : `${pick(blanks)}${pick(names)}${pick(blanks)}=${pick(values)}${pick(blanks)}`;
  const state: StickyState = { stickyName: null, cookieLine: "", setCookie: "" };
  let withValue = 0;
  for (let n = 0; n < 3000; n++) {
    const lines = ["Host: example.test"];
    if (random() < 0.3) lines.push("Connection: keep-alive");
    for (let c = Math.floor(random() * 3); c > 0; c--) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, part);
      lines.push(`${pick(["Cookie", "cookie", "COOKIE"])}:${pick(blanks)}${parts.join(";")}`);
      if (random() < 0.3) lines.push("Accept: */*");
      if (random() < 0.2) lines.push("Keep-Alive: timeout=5");
    }
    const text = `GET / HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
    const alone = new TextEncoder().encode(text);
    const expected = reference(parseRequestHead(alone, 0, alone.length), alone, NAME);
    // The reader gets the head where a pipelined one sits: after other bytes in the buffer.
    const from = n % 3 === 0 ? 0 : 1 + Math.floor(random() * 40);
    const buf = new Uint8Array(from + alone.length).fill(0x3b);
    buf.set(alone, from);
    const end = findHeadEnd(buf, from, buf.length);
    const head = parseRequestHead(buf, from, end);
    const value = stickyRequest(state, head, buf, from, NAME);
    const context = JSON.stringify(text);
    assert.equal(value, expected.value, context);
    assert.equal(state.cookieLine, expected.cookieLine, context);
    assert.deepEqual(head.drops, expected.drops, context);
    if (value !== null) withValue++;
  }
  assert.ok(withValue > 500, `the sticky cookie was found in ${withValue} heads`);
});
