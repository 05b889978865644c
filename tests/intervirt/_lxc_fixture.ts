/**
 * Fixtures for the real-LXC tests: a busybox rootfs tarball as the local image, a fake internet
 * network namespace with no route back, a config file, and teardown that removes everything the
 * test made (containers under its LXC path, its bridge, nft table, veths and namespace).
 */
import { join } from "node:path";
import { agentSection, sh } from "../_helpers/mod.ts";

/** Names and addresses one test uses (all with the `piv` prefix). */
export interface LxcNames {
  bridge: string;
  table: string;
  prefix: string;
  vethPrefix: string;
  wanNs: string;
  wanHost: string;
  wanPeer: string;
  /** Host side of the fake internet link. */
  wanHostIp: string;
  /** The fake internet's address (no route back to containers). */
  wanPeerIp: string;
}

/** Builds `<stateDir>/images/busybox.tar.gz`: busybox init, httpd on :80 serving "hello". */
export async function buildBusyboxImage(stateDir: string, work: string): Promise<void> {
  const root = join(work, "rootfs");
  for (
    const d of [
      "bin",
      "sbin",
      "usr/bin",
      "usr/sbin",
      "etc",
      "proc",
      "sys",
      "dev",
      "tmp",
      "root",
      "var/www",
    ]
  ) {
    await Deno.mkdir(join(root, d), { recursive: true });
  }
  // Applet links point at /usr/bin/busybox, which exists inside the rootfs too (Deno.symlink
  // needs unscoped permissions, so the links are made by busybox and ln).
  await Deno.copyFile("/bin/busybox", join(root, "usr/bin/busybox"));
  await Deno.chmod(join(root, "usr/bin/busybox"), 0o755);
  await sh(["/bin/busybox", "--install", "-s", join(root, "bin")]);
  await sh(["ln", "-sf", "/usr/bin/busybox", join(root, "sbin/init")]);
  await Deno.writeTextFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await Deno.writeTextFile(join(root, "etc/group"), "root:x:0:\n");
  await Deno.writeTextFile(join(root, "var/www/index.html"), "hello\n");
  await Deno.writeTextFile(
    join(root, "etc/inittab"),
    "::sysinit:/bin/httpd -p 80 -h /var/www\n::respawn:/bin/sleep 100000\n",
  );
  await Deno.mkdir(join(stateDir, "images"), { recursive: true });
  await sh(["tar", "-C", root, "-czf", join(stateDir, "images/busybox.tar.gz"), "."]);
  await Deno.remove(root, { recursive: true });
}

/** Creates the fake internet: netns with 198.51.100.x and no route back. */
export async function createFakeInternet(n: LxcNames): Promise<void> {
  await sh(["ip", "netns", "add", n.wanNs]);
  await sh([
    "ip",
    "link",
    "add",
    n.wanHost,
    "type",
    "veth",
    "peer",
    "name",
    n.wanPeer,
    "netns",
    n.wanNs,
  ]);
  await sh(["ip", "addr", "add", `${n.wanHostIp}/30`, "dev", n.wanHost]);
  await sh(["ip", "link", "set", n.wanHost, "up"]);
  await sh(["ip", "-n", n.wanNs, "addr", "add", `${n.wanPeerIp}/30`, "dev", n.wanPeer]);
  await sh(["ip", "-n", n.wanNs, "link", "set", n.wanPeer, "up"]);
  await sh(["ip", "-n", n.wanNs, "link", "set", "lo", "up"]);
}

/** Removes everything a test may have made; never touches other names. */
export async function teardown(n: LxcNames, lxcPath: string): Promise<void> {
  const ls = await sh(["lxc-ls", "-P", lxcPath, "-1"], { check: false });
  for (
    const name of ls.stdout.split("\n").map((s) => s.trim()).filter((s) => s.startsWith(n.prefix))
  ) {
    await sh(["lxc-stop", "-P", lxcPath, "-n", name, "-k"], { check: false });
    await sh(["lxc-destroy", "-P", lxcPath, "-n", name, "-f"], { check: false });
  }
  await sh(["nft", "delete", "table", "inet", n.table], { check: false });
  await sh(["ip", "link", "del", n.bridge], { check: false });
  await sh(["ip", "link", "del", n.wanHost], { check: false });
  await sh(["ip", "netns", "del", n.wanNs], { check: false });
  const links = await sh(["ip", "-o", "link", "show"], { check: false });
  for (const m of links.stdout.matchAll(/^\d+: ([^:@]+)[:@]/gm)) {
    if (m[1]!.startsWith(n.vethPrefix)) await sh(["ip", "link", "del", m[1]!], { check: false });
  }
}

/** The agent config file for a test. */
export function configToml(
  dir: string,
  n: LxcNames,
  port: number,
  extra = "",
): string {
  return `${agentSection(dir, { log_level: "warn" })}
[admin]
enabled = false

[intervirt]
enabled = true
listen = "127.0.0.1:${port}"
lxc_path = "${dir}/lxc"
name_prefix = "${n.prefix}"
veth_prefix = "${n.vethPrefix}"
bridge = "${n.bridge}"
bridge_ipv4 = "10.93.7.1/24"
bridge_ipv6 = "fd93:7::1/64"
nft_table = "${n.table}"
stop_grace_seconds = 0
${extra}
`;
}
