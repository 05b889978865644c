/**
 * The proxy's own answers (sozu's defaults, with an explicit empty body), and the choice between
 * them and the per-listener / per-cluster overrides. Every canned answer closes the connection.
 */

const enc = new TextEncoder();

function answer(status: string): Uint8Array {
  return enc.encode(
    `HTTP/1.1 ${status}\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  );
}

/** Default canned answers by status code. */
export const CANNED: Readonly<Record<number, Uint8Array>> = {
  400: answer("400 Bad Request"),
  401: answer("401 Unauthorized"),
  404: answer("404 Not Found"),
  408: answer("408 Request Timeout"),
  413: answer("413 Payload Too Large"),
  431: answer("431 Request Header Fields Too Large"),
  502: answer("502 Bad Gateway"),
  503: answer("503 Service Unavailable"),
  504: answer("504 Gateway Timeout"),
  505: answer("505 HTTP Version Not Supported"),
};

/** The bytes of an operator-supplied raw answer, or the default for `status`. */
export function cannedAnswer(status: number, override?: string | null): Uint8Array {
  if (override) return enc.encode(override);
  return CANNED[status] ?? CANNED[502]!;
}

/** The 301 of an application with `https_redirect` (closes the connection, like every answer). */
export function redirectAnswer(location: string): Uint8Array {
  return enc.encode(
    `HTTP/1.1 301 Moved Permanently\r\nLocation: ${location}\r\nContent-Length: 0\r\n` +
      `Connection: close\r\n\r\n`,
  );
}
