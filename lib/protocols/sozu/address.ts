/** Socket addresses "ip:port" as sozu writes them (kept apart from the wire schemas so the
 * config section can use it without loading them). */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]{2,45}$/;

/** Whether `text` is a socket address "ip:port" (IPv6 in brackets), port 1–65535. */
export function isSocketAddress(text: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return false;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return false;
  return m[1] !== undefined ? IPV6.test(m[1]) && m[1].includes(":") : IPV4.test(m[2]!);
}
