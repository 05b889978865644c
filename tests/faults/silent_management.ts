/**
 * A stand-in for openvpn whose management interface stops answering. Run with openvpn's
 * arguments, it writes its pid to `--writepid`, listens on the `--management <path> unix` socket
 * and lives until killed. Plain: it accepts every connection and never writes a byte. With
 * `--answer-until-connected` (first argument): it plays openvpn's management interface up to a
 * CONNECTED state (`>HOLD:`, a `SUCCESS:` to each command, `>STATE:…,CONNECTED` after
 * `hold release`), then falls silent. Started by the fake `openvpn` executable
 * `tests/faults/backend_openvpn_test.ts` writes.
 *
 * @module
 */
const args = Deno.args;
const untilConnected = args[0] === "--answer-until-connected";
const at = (flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const enc = new TextEncoder();

/** Answers like openvpn until `hold release`, then says CONNECTED and nothing more. */
async function playUntilConnected(conn: Deno.Conn): Promise<void> {
  await conn.write(enc.encode(">INFO:OpenVPN Management Interface\r\n>HOLD:Waiting\r\n"));
  let text = "";
  for await (const chunk of conn.readable) {
    text += new TextDecoder().decode(chunk);
    let nl: number;
    while ((nl = text.indexOf("\n")) >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      await conn.write(enc.encode(`SUCCESS: ${line}\r\n`));
      if (line === "hold release") {
        const now = Math.floor(Date.now() / 1000);
        await conn.write(
          enc.encode(`>STATE:${now},CONNECTED,SUCCESS,10.8.0.2,127.0.0.1,1194,,\r\n`),
        );
        await new Promise(() => {}); // silent from now on, the connection held open
      }
    }
  }
}

const pidFile = at("--writepid");
const management = at("--management");
if (pidFile) Deno.writeTextFileSync(pidFile, `${Deno.pid}\n`);
if (management) {
  const listener = Deno.listen({ transport: "unix", path: management });
  const held: Deno.Conn[] = [];
  for await (const conn of listener) {
    held.push(conn); // accepted; plain: never answered
    if (untilConnected) void playUntilConnected(conn).catch(() => {});
  }
}
await new Promise(() => {});
