/**
 * A stand-in for openvpn whose management interface stops answering: run with openvpn's
 * arguments, it writes its pid to `--writepid`, listens on the `--management <path> unix` socket,
 * accepts every connection and never writes a byte, and lives until killed. Started by the fake
 * `openvpn` executable `tests/faults/backend_openvpn_test.ts` writes.
 *
 * @module
 */
const args = Deno.args;
const at = (flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const pidFile = at("--writepid");
const management = at("--management");
if (pidFile) Deno.writeTextFileSync(pidFile, `${Deno.pid}\n`);
if (management) {
  const listener = Deno.listen({ transport: "unix", path: management });
  const held: Deno.Conn[] = [];
  for await (const conn of listener) held.push(conn); // accepted, never answered
}
await new Promise(() => {});
