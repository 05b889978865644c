/**
 * No catchable signal kills the agent by accident: SIGHUP, SIGUSR1, SIGUSR2 (offered to the
 * services) and SIGALRM, SIGVTALRM, SIGIO, SIGPWR, SIGXFSZ (ignored) leave it running and are
 * logged; SIGQUIT stops it cleanly like SIGTERM. Before, SIGUSR1 ended it with status 138 and
 * SIGHUP with 129.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { agentSection, freePort, spawnAgent, tempDir, waitFor } from "../_helpers/mod.ts";

Deno.test("catchable signals are handled on purpose; SIGQUIT stops the agent with status 0", async () => {
  await using dir = await tempDir("sig");
  const config = join(dir.path, "agent.toml");
  await Deno.writeTextFile(
    config,
    agentSection(dir.path, { log_level: "info" }) +
      `[admin]\nenabled = true\nlisten = "127.0.0.1:${freePort()}"\n`,
  );
  await using agent = spawnAgent({ args: ["serve", "--config", config] });
  await agent.waitForLine(/^admin /);
  const signals: Deno.Signal[] = [
    "SIGHUP",
    "SIGUSR1",
    "SIGUSR2",
    "SIGALRM",
    "SIGVTALRM",
    "SIGIO",
    "SIGPWR",
    "SIGXFSZ",
  ];
  for (const signal of signals) {
    Deno.kill(agent.pid, signal);
    await waitFor(
      () => agent.stderr().includes(`"signal":"${signal}"`),
      { what: `the log line of ${signal}` },
    );
  }
  assert.match(
    agent.stderr(),
    /"msg":"signal ignored: no running service uses it","signal":"SIGUSR1"/,
  );
  assert.match(agent.stderr(), /"msg":"signal ignored","signal":"SIGALRM"/);
  // still serving
  const port = agent.stdoutLines.find((l) => l.startsWith("admin "))!.split(":").pop();
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const status = await agent.stop("SIGQUIT");
  assert.equal(status.code, 0, agent.stderr());
  assert.match(agent.stderr(), /"msg":"stopping","signal":"SIGQUIT"/);
});
