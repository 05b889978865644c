import assert from "node:assert/strict";
import { CommandError } from "../../lib/core/mod.ts";
import { NftSession } from "../../lib/backends/netfilter/mod.ts";
import { backendTest, sh } from "../_helpers/mod.ts";

const TABLE = "pivsession_test";

async function elements(): Promise<string> {
  const { stdout } = await sh(["nft", "list", "set", "inet", TABLE, "s"]);
  return /elements = \{([^}]*)\}/.exec(stdout)?.[1]?.replace(/\s+/g, " ").trim() ?? "";
}

backendTest(
  "an nft -i session applies one-line transactions, reports nft's errors and survives a dead nft",
  { tools: ["nft"], root: true },
  async () => {
    await sh(["nft", "-f", "-"], {
      stdin: `add table inet ${TABLE}\nadd set inet ${TABLE} s { type ipv4_addr; }\n`,
    });
    const session = new NftSession();
    try {
      session.warm();
      await session.apply(`add element inet ${TABLE} s { 10.93.7.1, 10.93.7.2 }`, 5000);
      assert.equal(await elements(), "10.93.7.1, 10.93.7.2");

      // One line is one transaction: the bad half keeps the good half out too.
      await assert.rejects(
        session.apply(
          `delete element inet ${TABLE} s { 10.93.7.1 }; add element inet ${TABLE} s { 10.93.7.x }`,
          5000,
        ),
        (e: unknown) => e instanceof CommandError && /syntax error/.test(e.stderrTail),
      );
      assert.equal(await elements(), "10.93.7.1, 10.93.7.2");
      await assert.rejects(session.apply("add element\ninet", 5000), TypeError);

      // Requests queue behind each other and are answered in order.
      await Promise.all(
        [3, 4, 5].map((i) => session.apply(`add element inet ${TABLE} s { 10.93.7.${i} }`, 5000)),
      );
      assert.equal(await elements(), "10.93.7.1, 10.93.7.2, 10.93.7.3, 10.93.7.4, 10.93.7.5");

      // A killed nft fails the next call with a CommandError; the call after starts a new one.
      const { stdout } = await sh(["pgrep", "-P", String(Deno.pid), "-x", "nft"]);
      for (const pid of stdout.trim().split("\n")) Deno.kill(Number(pid), "SIGKILL");
      await assert.rejects(
        session.apply(`add element inet ${TABLE} s { 10.93.7.6 }`, 5000),
        CommandError,
      );
      await session.apply(`add element inet ${TABLE} s { 10.93.7.7 }`, 5000);
      assert.match(await elements(), /10\.93\.7\.7/);
    } finally {
      await session.close();
      await sh(["nft", "delete", "table", "inet", TABLE], { check: false });
    }
    await assert.rejects(session.apply(`add element inet ${TABLE} s { 10.93.7.8 }`, 5000));
  },
);
