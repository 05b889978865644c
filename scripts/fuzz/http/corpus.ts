/**
 * The HTTP corpus: connection `i` of a run is one to four pipelined requests for the fuzz front,
 * each valid or mutated in its request line (method, target, version, separators), its headers
 * (duplicates, obs-fold, bare CR/LF, NUL and control bytes, bad names, Host games, oversize), its
 * framing (Content-Length and Transfer-Encoding variants and conflicts, chunk sizes, extensions,
 * trailers, short and long bodies, the classic CL.TE / TE.CL smuggling shapes carrying a request
 * for /smuggled/…), or cut short. Ids are `<connection>-<position>` and travel in X-Fuzz-Id and the
 * path, so the recording backend can say which client request it received.
 *
 * @module
 */
import { frameRng, type Rng } from "../rng.ts";
import { mutateFraming, mutateHead, smuggle } from "./mutations.ts";
import { requestText, wireBytes, type WireRequest } from "./wire.ts";

/** The hostname of the fuzz front. */
export const FUZZ_HOST = "http.fuzz.test";

/** One client request as the client framed it. */
export interface CorpusRequest {
  id: string;
  method: string;
  /** The payload the backend must receive (framing untouched), or null. */
  intended: string | null;
  /** Whether anything in this request was mutated. */
  mutated: boolean;
  /** Its own mutations ("valid" when none; "truncated" when the connection was cut in it). */
  label: string;
}

/** One connection's worth of bytes. */
export interface CorpusConnection {
  index: number;
  bytes: Uint8Array;
  requests: CorpusRequest[];
  /** The mutations, joined. */
  label: string;
  /** The bytes end inside a request (the client then closes its side). */
  truncated: boolean;
}

const METHODS = ["GET", "GET", "GET", "POST", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH"];

function payload(rng: Rng, max: number): string {
  const n = rng.int(max + 1);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + rng.int(95));
  return s;
}

/** A valid request `id`. */
export function validRequest(rng: Rng, id: string): WireRequest {
  const method = rng.pick(METHODS);
  const r: WireRequest = {
    id,
    method,
    target: `/fz/${id}${rng.chance(0.3) ? `?q=${rng.int(1000)}` : ""}`,
    version: "HTTP/1.1",
    sep1: " ",
    sep2: " ",
    lineEnd: "\r\n",
    headers: [
      { name: "Host", colon: ": ", value: FUZZ_HOST, end: "\r\n" },
      { name: "X-Fuzz-Id", colon: ": ", value: id, end: "\r\n" },
      { name: "User-Agent", colon: ": ", value: "polyagent-fuzz", end: "\r\n" },
    ],
    headEnd: "\r\n",
    body: { kind: "none" },
    intended: "",
    labels: [],
    suffix: "",
  };
  if (rng.chance(0.3)) r.headers.push({ name: "Accept", colon: ": ", value: "*/*", end: "\r\n" });
  if (method === "POST" || method === "PUT" || method === "PATCH") {
    const data = payload(rng, rng.chance(0.1) ? 20_000 : 300);
    r.intended = data;
    if (rng.chance(0.6)) {
      r.body = { kind: "length", data };
      r.headers.push({
        name: "Content-Length",
        colon: ": ",
        value: String(data.length),
        end: "\r\n",
      });
    } else {
      r.body = { kind: "chunked", chunks: chunksOf(data, rng), tail: "0\r\n\r\n" };
      r.headers.push({ name: "Transfer-Encoding", colon: ": ", value: "chunked", end: "\r\n" });
    }
  }
  return r;
}

/** Splits `data` into one to four chunks. */
export function chunksOf(
  data: string,
  rng: Rng,
): { size: string; ext: string; data: string; end: string }[] {
  const out = [];
  let at = 0;
  const parts = data.length === 0 ? 0 : rng.range(1, 4);
  for (let p = 0; p < parts; p++) {
    const len = p === parts - 1 ? data.length - at : rng.int(data.length - at + 1);
    if (len === 0) continue;
    out.push({ size: len.toString(16), ext: "", data: data.slice(at, at + len), end: "\r\n" });
    at += len;
  }
  return out;
}

/** Connection `index` of the corpus. */
export function corpusConnection(seed: number, index: number): CorpusConnection {
  const rng = frameRng(seed, "http", index);
  const count = rng.weighted([[60, 1], [25, 2], [10, 3], [5, 4]]);
  const clean = rng.chance(0.3);
  const wires: WireRequest[] = [];
  for (let k = 0; k < count; k++) {
    const r = validRequest(rng, `${index}-${k}`);
    if (!clean && rng.chance(0.6)) {
      const kind = rng.weighted([[45, "head"], [35, "framing"], [20, "smuggle"]]);
      if (kind === "head") mutateHead(r, rng);
      else if (kind === "framing") mutateFraming(r, rng);
      else smuggle(r, rng, `S${index}-${k}`);
    }
    wires.push(r);
  }
  let text = wires.map(requestText).join("");
  let truncated = false;
  if (!clean && rng.chance(0.05)) {
    text = text.slice(0, rng.int(text.length));
    truncated = true;
  }
  const labels = wires.flatMap((w) => w.labels);
  if (truncated) labels.push("truncated");
  return {
    index,
    bytes: wireBytes(text, true),
    requests: wires.map((w) => ({
      id: w.id,
      method: w.method,
      intended: w.intended,
      mutated: w.labels.length > 0 || truncated,
      label: [...w.labels, ...(truncated ? ["truncated"] : [])].join(", ") || "valid",
    })),
    label: labels.join(", ") || "valid",
    truncated,
  };
}
