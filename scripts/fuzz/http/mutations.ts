/**
 * Mutations of one HTTP request: the request line and headers (`mutateHead`), the body framing
 * (`mutateFraming`), and the classic request-smuggling shapes (`smuggle`), each adding a label.
 * X-Fuzz-Id is never touched, so whatever reaches the backend can be traced to its client request.
 * Raw bytes above 0x7f are written as single characters (the corpus writes latin-1).
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import { dropHeader, setHeader, type WireRequest } from "./wire.ts";

const UTF8_E_ACUTE = "\xc3\xa9";

/** Request targets a strict parser refuses or a router may misread. */
function oddTargets(id: string, rng: Rng): string[] {
  return [
    "*",
    `http://${"http.fuzz.test"}/fz/${id}`,
    `//fz/${id}`,
    `/fz/${id} x`,
    `/fz/${id}%00`,
    `/fz/${id}\x7f`,
    `/fz/${id}/${UTF8_E_ACUTE}`,
    `/fz/${id}#frag`,
    `/fz/${id}/../../../etc/passwd`,
    "",
    `/fz/${id}?${"a".repeat(rng.pick([8000, 70_000]))}`,
  ];
}

function lineMutation(r: WireRequest, rng: Rng): string {
  switch (rng.int(9)) {
    case 0:
      r.method = rng.pick([
        "get",
        "G(T",
        "GE T",
        "",
        "PRI",
        "TRACE",
        "CONNECT",
        "M".repeat(100),
        "GET\x00",
      ]);
      return `method ${JSON.stringify(r.method.slice(0, 12))}`;
    case 1:
      r.target = rng.pick(oddTargets(r.id, rng));
      return `target ${JSON.stringify(r.target.slice(0, 24))}`;
    case 2:
      r.version = rng.pick([
        "HTTP/1.0",
        "HTTP/2.0",
        "HTTP/1.2",
        "HTTP/1.10",
        "http/1.1",
        "HTTP/1",
        "HTTP/1.1x",
        "",
        "HTTP/0.9",
      ]);
      return `version ${JSON.stringify(r.version)}`;
    case 3:
      r.sep1 = rng.pick(["  ", "\t", "\x0b", ""]);
      return "separator 1";
    case 4:
      r.sep2 = rng.pick(["  ", "\t", " \r"]);
      return "separator 2";
    case 5:
      r.lineEnd = rng.pick(["\n", "\r", " \r\n", "\r\r\n"]);
      return `request line end ${JSON.stringify(r.lineEnd)}`;
    case 6:
      for (const h of r.headers) h.end = "\n";
      r.lineEnd = "\n";
      r.headEnd = "\n";
      return "bare LF everywhere";
    case 7:
      r.headEnd = "";
      return "head not ended";
    default:
      r.lineEnd = "\r\n\r\n" + r.lineEnd;
      return "empty line after request line";
  }
}

function headerLineMutation(r: WireRequest, rng: Rng): string {
  const others = r.headers.filter((h) => h.name !== "X-Fuzz-Id");
  const h = rng.pick(others.length > 0 ? others : r.headers);
  if (h.name === "X-Fuzz-Id") return "none";
  switch (rng.int(10)) {
    case 0:
      h.colon = rng.pick([" : ", ":", " :", ":\t", "::"]);
      return `colon ${JSON.stringify(h.colon)} in ${h.name}`;
    case 1:
      h.value += rng.pick(["\x00", "\x01", "\x7f", "\r", "\n", "\rX: y", "\x00x"]);
      return `control byte in ${h.name}`;
    case 2:
      h.value += "\r\n folded";
      return `obs-fold in ${h.name}`;
    case 3:
      h.name = rng.pick(["X A", "X(A)", "", `${h.name}\x00`, "X-\xe9", `${h.name} `]);
      return `header name ${JSON.stringify(h.name)}`;
    case 4:
      h.colon = "";
      h.value = "";
      return "header without colon";
    case 5:
      h.end = rng.pick(["\n", "\r", "\r\r\n"]);
      return `header line end ${JSON.stringify(h.end)}`;
    case 6:
      h.value = `${UTF8_E_ACUTE} obs-text \xff`;
      return `obs-text in ${h.name}`;
    case 7:
      h.value = " " + h.value + " \t";
      return `padded value in ${h.name}`;
    case 8:
      h.value = "";
      return `empty ${h.name}`;
    default:
      r.headers.push({ ...h });
      return `duplicate ${h.name}`;
  }
}

function hostMutation(r: WireRequest, rng: Rng): string {
  const choice = rng.int(7);
  if (choice === 0) {
    dropHeader(r, "Host");
    return "no Host";
  }
  if (choice === 1) {
    r.headers.push({ name: "Host", colon: ": ", value: "other.fuzz.test", end: "\r\n" });
    return "second Host";
  }
  const host = [
    "",
    "http.fuzz.test:80x",
    "user@http.fuzz.test",
    "http.fuzz.test/evil",
    "HTTP.FUZZ.TEST",
    "[::1]",
    "unknown.fuzz.test",
    "http.fuzz.test.",
  ];
  setHeader(r, "Host", rng.pick(host));
  return "Host value";
}

function sizeMutation(r: WireRequest, rng: Rng): string {
  if (rng.chance(0.5)) {
    const n = rng.pick([20_000, 70_000]);
    r.headers.push({ name: "X-Big", colon: ": ", value: "a".repeat(n), end: "\r\n" });
    return `header of ${n} bytes`;
  }
  const n = rng.pick([100, 2100]);
  for (let i = 0; i < n; i++) {
    r.headers.push({ name: `X-H${i}`, colon: ": ", value: "v".repeat(30), end: "\r\n" });
  }
  return `${n} headers`;
}

function semanticHeader(r: WireRequest, rng: Rng): string {
  const [name, value] = rng.pick(
    [
      ["Expect", "100-continue"],
      ["Connection", "close"],
      ["Connection", "keep-alive, Upgrade"],
      ["Upgrade", "h2c"],
      ["TE", "trailers"],
      ["Keep-Alive", "timeout=5"],
      ["Proxy-Connection", "keep-alive"],
      ["Content-Type", "text/plain; charset=\xff"],
    ] as const,
  );
  r.headers.push({ name, colon: ": ", value, end: "\r\n" });
  return `${name}: ${value}`;
}

/** Mutates the request line or the headers (one or two changes). */
export function mutateHead(r: WireRequest, rng: Rng): void {
  const times = rng.chance(0.8) ? 1 : 2;
  for (let i = 0; i < times; i++) {
    const label = rng.weighted<() => string>([
      [30, () => lineMutation(r, rng)],
      [35, () => headerLineMutation(r, rng)],
      [15, () => hostMutation(r, rng)],
      [8, () => sizeMutation(r, rng)],
      [12, () => semanticHeader(r, rng)],
    ])();
    if (label !== "none") r.labels.push(label);
  }
}

function lengthMutation(r: WireRequest, rng: Rng): string {
  const body = r.body.kind === "length" ? r.body.data : "abc";
  if (r.body.kind !== "length") {
    dropHeader(r, "Transfer-Encoding");
    r.body = { kind: "length", data: body };
  }
  const n = body.length;
  const value = rng.pick([
    String(Math.max(0, n - 1 - rng.int(3))),
    String(n + 1 + rng.int(40)),
    `+${n}`,
    `-${n}`,
    `0x${n.toString(16)}`,
    `${n}, ${n}`,
    `${n},${n + 1}`,
    "99999999999999999999",
    ` ${n} `,
    `00${n}`,
    `${n}.0`,
    "",
  ]);
  setHeader(r, "Content-Length", value);
  if (rng.chance(0.2)) {
    r.headers.push({
      name: "Content-Length",
      colon: ": ",
      value: rng.pick([String(n), String(n + 5)]),
      end: "\r\n",
    });
  }
  return `Content-Length ${JSON.stringify(value)}`;
}

function encodingMutation(r: WireRequest, rng: Rng): string {
  const value = rng.pick([
    "Chunked",
    " chunked",
    "chunked ",
    "chunked, chunked",
    "gzip, chunked",
    "chunked, gzip",
    "xchunked",
    "chunked\x00",
    "identity",
    "chunk",
    '"chunked"',
  ]);
  if (r.body.kind !== "chunked") {
    const data = r.body.kind === "length" ? r.body.data : "abc";
    dropHeader(r, "Content-Length");
    r.body = {
      kind: "chunked",
      chunks: [{ size: data.length.toString(16), ext: "", data, end: "\r\n" }],
      tail: "0\r\n\r\n",
    };
  }
  setHeader(r, "Transfer-Encoding", value);
  if (rng.chance(0.2)) {
    r.headers.push({ name: "Transfer-Encoding", colon: ": ", value: "chunked", end: "\r\n" });
  }
  return `Transfer-Encoding ${JSON.stringify(value)}`;
}

/** Gives the request a chunked body (one chunk) if it has none. */
function ensureChunked(r: WireRequest): Extract<WireRequest["body"], { kind: "chunked" }> {
  if (r.body.kind !== "chunked") {
    const data = r.body.kind === "length" ? r.body.data || "hello" : "hello";
    dropHeader(r, "Content-Length");
    setHeader(r, "Transfer-Encoding", "chunked");
    r.body = {
      kind: "chunked",
      chunks: [{ size: data.length.toString(16), ext: "", data, end: "\r\n" }],
      tail: "0\r\n\r\n",
    };
  }
  return r.body;
}

function chunkMutation(r: WireRequest, rng: Rng): string {
  const b = ensureChunked(r);
  if (b.chunks.length === 0) b.chunks.push({ size: "3", ext: "", data: "abc", end: "\r\n" });
  const c = rng.pick(b.chunks);
  switch (rng.int(10)) {
    case 0:
      c.size = rng.pick([c.size.toUpperCase(), `000${c.size}`, `${c.size} `, ` ${c.size}`]);
      return `chunk size ${JSON.stringify(c.size)}`;
    case 1:
      c.ext = rng.pick([
        ";a=b",
        ';a="q s"',
        "; a",
        ";a=b;c",
        " ;a",
        ";\x00",
        ';a="x',
        ";=",
        `;${"e".repeat(5000)}`,
      ]);
      return `chunk extension ${JSON.stringify(c.ext.slice(0, 12))}`;
    case 2:
      c.size = rng.pick(["1" + "0".repeat(20), "ffffffffffffffff", "-5", "zz", "0x5", ""]);
      return `chunk size ${JSON.stringify(c.size)}`;
    case 3:
      c.data += "xyz";
      return "chunk data longer than its size";
    case 4:
      c.data = c.data.slice(0, -1);
      return "chunk data shorter than its size";
    case 5:
      c.end = rng.pick(["\n", "", "\r"]);
      return `chunk end ${JSON.stringify(c.end)}`;
    case 6:
      b.tail = rng.pick([
        "0\r\nX-T: 1\r\n\r\n",
        "0\r\nbad trailer\r\n\r\n",
        "0\r\nContent-Length: 5\r\n\r\n",
        "0\r\n",
      ]);
      return `last chunk ${JSON.stringify(b.tail.slice(0, 16))}`;
    case 7:
      b.tail = "";
      return "no last chunk";
    case 8:
      b.tail = "0;ext=1\r\n\r\n";
      return "last chunk with extension";
    default:
      c.size = c.size.replace(/^/, "\n");
      return "bare LF before chunk size";
  }
}

/** Mutates the body framing (the payload is then no longer checked). */
export function mutateFraming(r: WireRequest, rng: Rng): void {
  const label = rng.weighted<() => string>([
    [35, () => lengthMutation(r, rng)],
    [25, () => encodingMutation(r, rng)],
    [40, () => chunkMutation(r, rng)],
  ])();
  r.intended = null;
  r.labels.push(label);
}

/** A request for /smuggled/… hidden where only a misread of the framing would find it. */
export function smuggle(r: WireRequest, rng: Rng, sid: string): void {
  const hidden =
    `GET /smuggled/${sid} HTTP/1.1\r\nHost: http.fuzz.test\r\nX-Fuzz-Id: ${sid}\r\n\r\n`;
  dropHeader(r, "Content-Length");
  dropHeader(r, "Transfer-Encoding");
  if (r.method === "GET" || r.method === "HEAD") r.method = "POST";
  const shape = rng.int(5);
  const chunkedHidden = `0\r\n\r\n${hidden}`;
  if (shape === 0) {
    // CL.TE: a CL reader sends everything, a TE reader sees a second request
    r.headers.push({
      name: "Content-Length",
      colon: ": ",
      value: String(chunkedHidden.length),
      end: "\r\n",
    });
    r.headers.push({ name: "Transfer-Encoding", colon: ": ", value: "chunked", end: "\r\n" });
    r.body = { kind: "length", data: chunkedHidden };
  } else if (shape === 1) {
    // TE.CL: a TE reader sends the chunk, a CL reader leaves the hidden request behind
    const chunk = `${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`;
    r.headers.push({ name: "Transfer-Encoding", colon: ": ", value: "chunked", end: "\r\n" });
    r.headers.push({ name: "Content-Length", colon: ": ", value: "4", end: "\r\n" });
    r.body = { kind: "length", data: chunk };
  } else if (shape === 2) {
    r.headers.push({ name: "Transfer-Encoding", colon: ": ", value: "chunked", end: "\r\n" });
    r.headers.push({
      name: "Transfer-Encoding",
      colon: ": ",
      value: rng.pick(["x", "identity", " chunked"]),
      end: "\r\n",
    });
    r.body = { kind: "length", data: chunkedHidden };
  } else if (shape === 3) {
    r.headers.push({ name: "Content-Length", colon: ": ", value: "0", end: "\r\n" });
    r.headers.push({
      name: "Content-Length",
      colon: ": ",
      value: String(hidden.length),
      end: "\r\n",
    });
    r.body = { kind: "length", data: hidden };
  } else {
    r.headers.push({
      name: "Content-Length",
      colon: rng.pick([" : ", " :"]),
      value: String(hidden.length),
      end: "\r\n",
    });
    r.body = { kind: "length", data: hidden };
  }
  r.intended = null;
  r.labels.push(`smuggle shape ${shape}`);
}
