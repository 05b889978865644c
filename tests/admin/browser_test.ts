/**
 * The status page in a real browser: Debian's headless `chromium`, driven over the DevTools
 * protocol, against a live agent with a sozu application, a cryptoded profile and a supervised
 * Quix process. Checks every section's DOM, that a backend going down shows within 2 s through
 * the live stream, the restart action through its confirm form, the page at 360 px, and "agent
 * unreachable" and the reconnect; saves screenshots under var/test-artifacts/.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  agentSection,
  backendTest,
  freePort,
  polyagent,
  ROOT,
  spawnAgent,
  waitFor,
  worldTempDir,
} from "../_helpers/mod.ts";
import { QuixTestServer, type ServerSession } from "../quix/_server.ts";
import { Browser, CHROMIUM } from "./_browser.ts";

/** Where test artifacts go (CI keeps the folder). */
const ARTIFACTS = join(ROOT, "var", "test-artifacts");

interface World {
  config: string;
  admin: number;
  proxy: number;
  backend: number;
}

/** Writes the agent's config (admin with actions, sozu, cryptoded with one profile, quix). */
async function writeWorld(dir: string, quixUrl: string): Promise<World> {
  const world = { admin: freePort(), proxy: freePort(), backend: freePort() };
  const profiles = join(dir, "vpn.d");
  await Deno.mkdir(profiles, { mode: 0o700 });
  await Deno.writeTextFile(join(profiles, "office.ovpn"), "client\nremote 127.0.0.1 1194\n", {
    mode: 0o600,
  });
  const work = join(dir, "work");
  const config = join(dir, "agent.toml");
  await Deno.writeTextFile(
    config,
    agentSection(dir, { log_level: "info" }) + [
      "[admin]",
      `listen = "127.0.0.1:${world.admin}"`,
      "actions = true",
      "[sozu]",
      "enabled = true",
      `command_socket = "${join(dir, "run", "sozu.sock")}"`,
      `listeners = ["127.0.0.1:${world.proxy}"]`,
      "worker_count = 2",
      "[cryptoded]",
      "enabled = true",
      `socket = "${join(dir, "run", "cryptoded.sock")}"`,
      `profile_dir = "${profiles}"`,
      `resolv_conf = "${join(dir, "resolv.conf")}"`,
      `dns_method = "file"`,
      "[quix]",
      "enabled = true",
      `server_url = "${quixUrl}"`,
      "allow_insecure = true",
      `username = "quix123"`,
      `password = "bright01"`,
      "heartbeat_ms = 0",
      "idle_timeout_ms = 0",
      "vpn = false",
      `work_dir = "${work}"`,
      `allowed_commands = ["sleep"]`,
      "check_ms = 200",
      "",
    ].join("\n"),
  );
  return { config, ...world };
}

async function sozu(world: World, ...args: string[]): Promise<void> {
  const r = await polyagent(["ctl", "--config", world.config, "sozu", ...args]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

/** The text of each row of a table, cells joined with " | ". */
function rows(browser: Browser, id: string): Promise<string[]> {
  return browser.eval<string[]>(
    `[...document.querySelectorAll("#${id} tbody tr")].map((tr) =>
      [...tr.children].map((c) => c.textContent.trim()).join(" | "))`,
  );
}

async function running(server: QuixTestServer, s: ServerSession): Promise<number[]> {
  const list = await server.request(s, "view_running", {}) as { pid: number }[];
  return list.map((p) => p.pid);
}

async function checkSections(browser: Browser, world: World): Promise<void> {
  const h1 = await browser.eval<string>(`document.querySelector("h1").textContent`);
  assert.match(h1, /^polyagent on /);
  const services = await rows(browser, "services");
  for (const name of ["admin", "cryptoded", "sozu", "quix"]) {
    assert.ok(services.some((r) => r.startsWith(`${name} | running`)), services.join("\n"));
  }
  const listeners = await rows(browser, "svc-sozu-listeners");
  assert.deepEqual(listeners, [`127.0.0.1:${world.proxy} | HTTP | active`]);
  const apps = await rows(browser, "svc-sozu-applications");
  assert.match(apps[0]!, /^web \| http:\/\/127\.0\.0\.1 on 127\.0\.0\.1:\d+ \| 1 \| no$/);
  const backends = await rows(browser, "svc-sozu-backends");
  assert.match(backends[0]!, new RegExp(`^web \\| b1 \\| 127\\.0\\.0\\.1:${world.backend} \\| up`));
  const sparks = await browser.eval<number>(`document.querySelectorAll("#svc-sozu svg").length`);
  assert.equal(sparks, 2, "requests/s and p99 sparklines");
  const certs = await browser.eval<string>(`document.querySelector("#svc-sozu").textContent`);
  assert.match(certs, /No certificates\./);
  const tunnels = await rows(browser, "svc-cryptoded-tunnels");
  assert.match(tunnels[0]!, /^office \| disconnected \| disconnected \|/);
  const link = await rows(browser, "svc-quix-link");
  assert.match(link[0]!, /\| connected \|/);
  const procs = await rows(browser, "svc-quix-processes");
  assert.match(procs[0]!, /\| sleep 600 \|/);
  const wg = await rows(browser, "svc-quix-wireguard");
  assert.match(wg[0]!, /\| down \|/);
}

/** The banner's text. */
function banner(browser: Browser): Promise<string> {
  return browser.eval<string>(`document.getElementById("live").textContent`);
}

/** A hidden tab closes its stream; visible again, it reconnects. */
async function pauseWhenHidden(browser: Browser): Promise<void> {
  const visibility = (hidden: boolean) =>
    browser.eval(
      `Object.defineProperty(document, "hidden", { configurable: true, get: () => ${hidden} });
      document.dispatchEvent(new Event("visibilitychange")); true`,
    );
  await visibility(true);
  assert.equal(await banner(browser), "Paused while the tab is hidden.");
  await visibility(false);
  await waitFor(async () => (await banner(browser)).startsWith("Live"), { what: "reconnected" });
}

/** Follows the Restart link, confirms, and returns the result page's text. */
async function restartThroughPage(browser: Browser, base: string): Promise<string> {
  const href = await browser.eval<string>(
    `document.querySelector("#svc-quix-processes a.button").getAttribute("href")`,
  );
  await browser.goto(`${base}${href}`);
  const title = await browser.eval<string>(`document.querySelector("h1").textContent`);
  assert.equal(title, "Confirm: Restart");
  await browser.eval(`document.querySelector("form button").click(); true`);
  return await waitFor(async () => {
    const text = await browser.eval<string>(`document.body ? document.body.textContent : ""`);
    return /restarted as pid \d+|Failed|Refused|Not offered|Bad request/.test(text) ? text : null;
  }, { timeoutMs: 20_000, what: "the action's result page" });
}

backendTest(
  "status page in chromium: every section, a backend down within 2 s over SSE, restart, 360 px",
  { tools: [CHROMIUM], root: true },
  async () => {
    await using dir = await worldTempDir("status");
    const quix = new QuixTestServer();
    await quix.start();
    const world = await writeWorld(dir.path, quix.url);
    const backendStop = new AbortController();
    const backend = Deno.serve({
      hostname: "127.0.0.1",
      port: world.backend,
      signal: backendStop.signal,
      onListen: () => {},
    }, () => new Response("hello\n"));
    const pids: number[] = [];
    await using agent = spawnAgent({ args: ["serve", "--config", world.config] });
    try {
      await agent.waitForLine(/^quix\s/, 30_000);
      await sozu(world, "app", "add", "web");
      await sozu(world, "front", "add", "web", "127.0.0.1");
      await sozu(world, "backend", "add", "web", `127.0.0.1:${world.backend}`, "--id", "b1");
      const proxied = `http://127.0.0.1:${world.proxy}/`;
      for (let i = 0; i < 20; i++) assert.equal(await (await fetch(proxied)).text(), "hello\n");
      const session = await waitFor(() => quix.current(), { what: "the quix link" });
      const started = await quix.request(session, "execute", { cmd: ["sleep", "600"] }) as {
        proc_id: number;
      };
      pids.push(started.proc_id);

      await using browser = await Browser.launch();
      const base = `http://127.0.0.1:${world.admin}`;
      await browser.goto(`${base}/status`);
      await waitFor(async () => (await banner(browser)).startsWith("Live"), {
        what: "the live stream",
      });
      await checkSections(browser, world);

      backendStop.abort();
      await backend.finished;
      const refused = await fetch(proxied);
      await refused.body?.cancel();
      assert.equal(refused.status, 503);
      await waitFor(
        async () => (await rows(browser, "svc-sozu-backends"))[0]!.includes("| down |"),
        {
          timeoutMs: 2000,
          what: "backend b1 shown down through the live stream",
        },
      );
      const errorCell = await rows(browser, "svc-sozu-backends");
      assert.match(errorCell[0]!, /cannot connect to backend/);

      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await browser.viewport(1200);
      await Deno.writeFile(join(ARTIFACTS, "status_page.png"), await browser.screenshot());

      await browser.viewport(360);
      await Deno.writeFile(join(ARTIFACTS, "status_page_360.png"), await browser.screenshot());
      const width = await browser.eval<number>(`document.documentElement.scrollWidth`);
      const wide = await browser.eval<string[]>(
        `[...document.querySelectorAll("body *")].filter((e) =>
          e.getBoundingClientRect().right > 361).slice(0, 5).map((e) => e.outerHTML.slice(0, 120))`,
      );
      assert.ok(width <= 360, `page is ${width} px wide at 360 px:\n${wide.join("\n")}`);
      assert.deepEqual(browser.problems(), [], "no console errors (CSP violations included)");

      await pauseWhenHidden(browser);
      const result = await restartThroughPage(browser, base);
      const newPid = Number(/restarted as pid (\d+)/.exec(result)?.[1]);
      assert.ok(newPid > 0, result);
      pids.push(newPid);
      assert.deepEqual(await running(quix, session), [newPid]);

      await browser.goto(`${base}/status`);
      await waitFor(async () => (await banner(browser)).startsWith("Live"), {
        what: "the live stream",
      });
      await agent.stop("SIGTERM");
      await waitFor(async () => (await banner(browser)).includes("Agent unreachable"), {
        timeoutMs: 10_000,
        what: "the banner saying the agent is unreachable",
      });
      await using again = spawnAgent({ args: ["serve", "--config", world.config] });
      await again.waitForLine(/^admin\s/, 30_000);
      await waitFor(async () => (await banner(browser)).startsWith("Live"), {
        timeoutMs: 10_000,
        what: "the page reconnected to the restarted agent",
      });
      await again.stop("SIGTERM");
    } finally {
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      backendStop.abort();
      await quix.stop();
    }
  },
);
