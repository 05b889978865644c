/**
 * IP address text helpers shared by listeners that count or match clients by address.
 */

/** An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as plain IPv4; other text as it is. */
export function unmappedIp(address: string): string {
  return address.toLowerCase().startsWith("::ffff:") && address.includes(".")
    ? address.slice(7)
    : address;
}
