/**
 * The `[cryptoded]` service definition: its config section, and the wiring of the service to its
 * backends (`CryptodedBackends`: the openvpn profile directory and launcher, the
 * pre-connect runner, the resolver, peer identification). The implementation and the backends are
 * loaded only in `create()`, so an agent that does not run cryptoded does not carry their code.
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import type * as OpenVpn from "../../backends/openvpn/mod.ts";
import type * as Resolver from "../../backends/resolver/mod.ts";
import type * as PeerCred from "../../backends/peercred/mod.ts";
import type {
  CryptodedBackendFactory,
  CryptodedBackends,
  CryptodedBackendSetup,
  CryptodedProfileStore,
} from "./backends.ts";
import type { CryptodedConfig } from "./config.ts";

/** The backend modules, once loaded. */
interface BackendModules {
  openvpn: typeof OpenVpn;
  resolver: typeof Resolver;
  peercred: typeof PeerCred;
}

/** The profile directory `profile_dir`, as the openvpn backend reads and writes it. */
function profileStore(
  { openvpn }: BackendModules,
  setup: CryptodedBackendSetup,
  ownUid: number,
): CryptodedProfileStore {
  const dir = setup.config.profile_dir;
  return {
    dir,
    ensureDir: () => openvpn.ensureDirs(dir),
    dirProblem: () => openvpn.confDirProblem(dir),
    scan: () => openvpn.scanProfiles(dir, ownUid),
    fileProblem: (path) => openvpn.profileFileProblem(path, ownUid),
    exists: (name) => openvpn.profileExists(dir, name),
    write: (name, content) => openvpn.writeProfile(dir, name, content),
    writeSettings: (name, settings) => openvpn.writeNocSettings(dir, name, settings),
    remove: (name) => openvpn.removeProfileFiles(dir, name),
    readSource: async (source, limit) =>
      source.kind === "ovpn"
        ? [await openvpn.readOvpnFile(source.path, limit)]
        : await openvpn.readTblk(source.path, limit, setup.runner),
  };
}

/** The launcher of openvpn processes, with the section's binary, namespace and timeouts. */
function tunnelLauncher({ openvpn }: BackendModules, setup: CryptodedBackendSetup) {
  const c = setup.config;
  return new openvpn.OpenVpnLauncher({
    runDir: setup.runDir,
    logDir: setup.logDir,
    openvpn: c.openvpn,
    rootCheck: c.openvpn_root_check,
    netns: c.netns,
    extraArgs: c.openvpn_args,
    connectTimeoutMs: c.connect_timeout,
    stopTimeoutMs: c.stop_timeout,
    bytecountInterval: c.bytecount_interval,
    runner: setup.runner,
    log: setup.log,
  });
}

/** Builds the backends of one start from the loaded modules. */
function buildBackends(modules: BackendModules, setup: CryptodedBackendSetup): CryptodedBackends {
  const { openvpn, resolver, peercred } = modules;
  const { config, runner } = setup;
  const ownUid = Deno.uid() ?? 0;
  return {
    ownUid,
    profiles: profileStore(modules, setup, ownUid),
    tunnels: tunnelLauncher(modules, setup),
    preExec: {
      lookupUser: openvpn.lookupUser,
      run: (command, options) => openvpn.runPreExec(runner, command, options),
    },
    dns: new resolver.DnsResolver({
      method: config.dns_method,
      resolvConf: config.resolv_conf,
      interface: config.dns_interface,
      runner,
      timeoutMs: 10_000,
    }),
    pidFiles: {
      write: (path) => openvpn.writeDaemonPidFile(path, Deno.pid),
      remove: (path) => openvpn.removeDaemonPidFile(path, Deno.pid),
    },
    peers: (paths) => new peercred.UnixPeerTracker(paths, runner),
    lookupGroup: openvpn.lookupGroup,
  };
}

/** Loads the backend modules and returns the factory the service calls at start. */
export async function loadCryptodedBackends(): Promise<CryptodedBackendFactory> {
  const [openvpn, resolver, peercred] = await Promise.all([
    import("../../backends/openvpn/mod.ts"),
    import("../../backends/resolver/mod.ts"),
    import("../../backends/peercred/mod.ts"),
  ]);
  return (setup) => buildBackends({ openvpn, resolver, peercred }, setup);
}

/** The `[cryptoded]` service definition. */
export const cryptodedDefinition: ServiceDefinition<CryptodedConfig> = {
  name: "cryptoded",
  summary: "OpenVPN control daemon on a Unix socket (cryptoded protocol)",
  configSchema: async () => (await import("./config.ts")).cryptodedConfigSchema(),
  create: async () => {
    const [{ CryptodedService }, makeBackends] = await Promise.all([
      import("./service.ts"),
      loadCryptodedBackends(),
    ]);
    return new CryptodedService(makeBackends);
  },
};
