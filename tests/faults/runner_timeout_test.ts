/**
 * The command runner against tools that hang with children: a timeout kills the whole process
 * group by default, and without a process group (the cheaper spawn some callers choose) a child
 * left holding the output pipes no longer keeps the call waiting past the timeout.
 */
import assert from "node:assert/strict";
import { CommandError, runCommand } from "../../lib/core/mod.ts";
import { sh } from "../_helpers/mod.ts";

/** A shell that prints the pid of its own `sleep` child, then waits on it. */
const HANG = ["sh", "-c", "sleep 3600 & echo $!; wait"];

async function alive(pid: number): Promise<boolean> {
  const r = await sh(["ps", "-o", "stat=", "-p", String(pid)], { check: false });
  return r.code === 0 && !r.stdout.trim().startsWith("Z");
}

async function timedOut(processGroup: boolean): Promise<CommandError> {
  const error = await runCommand(HANG, { timeoutMs: 300, processGroup }).then(
    () => assert.fail("a hanging command succeeded"),
    (e) => e,
  );
  assert.ok(error instanceof CommandError && error.timedOut, String(error));
  return error;
}

Deno.test("faults: a timed-out command is killed with its children (process group)", async () => {
  const error = await timedOut(true);
  const pid = Number(error.stdout.trim());
  assert.ok(pid > 0, `no pid in ${JSON.stringify(error.stdout)}`);
  for (let i = 0; i < 50 && await alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await alive(pid), false, "the sleep outlived the timeout");
});

Deno.test("faults: without a process group, a child holding the pipes does not hold the call", async () => {
  const error = await timedOut(false);
  const pid = Number(error.stdout.trim());
  try {
    assert.ok(pid > 0, `no pid in ${JSON.stringify(error.stdout)}`);
    // the call came back while the child still holds the pipes (before, it waited for the child)
    assert.equal(await alive(pid), true);
  } finally {
    if (pid > 0) await sh(["kill", "-9", String(pid)], { check: false });
  }
});
