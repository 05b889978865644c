/**
 * The Daemon's setup parameters (the real `setup_reporter.rs` table): each name with its value
 * check, its computed default and the rule that makes it Required.
 */

/** What a parameter's default and requirement depend on. */
export interface SetupContext {
  chain: string;
  neighborhoodMode: string;
  /** Root of the per-chain data directories. */
  dataRoot: string;
  /** The host's DNS servers (none when any of them is loopback). */
  dnsServers: readonly string[];
  /** `uid:gid:home` of the user the Node should run as. */
  realUser: string;
}

/** What a value check depends on. */
export interface CheckContext {
  /** `masq.data_root`: every data directory lies below it. */
  dataRoot: string;
}

/** One setup parameter. */
export interface ParamSpec {
  name: string;
  /** Null when the value is acceptable, else the reason. */
  check(value: string, ctx: CheckContext): string | null;
  /** The computed default, or null. */
  defaultValue(ctx: SetupContext): string | null;
  /** Whether an empty value is Required (else Blank). */
  required(ctx: SetupContext): boolean;
  /** Values shown as this many `*` in every response. */
  censorLength?: number;
}

/** Chains the real Node knows. */
export const CHAINS = [
  "base-mainnet",
  "base-sepolia",
  "dev",
  "eth-mainnet",
  "eth-ropsten",
  "polygon-amoy",
  "polygon-mainnet",
] as const;
/** The default chain (DEFAULT_CHAIN at the real HEAD). */
export const DEFAULT_CHAIN = "base-mainnet";
const MODES = ["standard", "zero-hop", "originate-only", "consume-only"];

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const U64 = /^\d{1,20}$/;

function oneOfValues(values: readonly string[]) {
  return (v: string) =>
    values.includes(v)
      ? null
      : `Invalid value: '${v}' isn't a valid value (expected one of ${values.join(", ")})`;
}

function numberIn(min: bigint, max: bigint) {
  return (v: string) => {
    if (!U64.test(v)) return `Invalid value: '${v}' is not a whole number`;
    const n = BigInt(v);
    return n >= min && n <= max ? null : `Invalid value: '${v}' must be between ${min} and ${max}`;
  };
}

function pipeNumbers(count: number, what: string) {
  return (v: string) => {
    const parts = v.split("|");
    return parts.length === count && parts.every((p) => U64.test(p))
      ? null
      : `Invalid value: '${v}' must be ${count} pipe-separated whole numbers (${what})`;
  };
}

function matching(re: RegExp, what: string) {
  return (v: string) => (re.test(v) ? null : `Invalid value: '${v}' is not ${what}`);
}

const always = () => true;
const never = () => false;
const notZeroHop = (c: SetupContext) => c.neighborhoodMode !== "zero-hop";
const none = () => null;

function path(v: string): string | null {
  if (v.includes("\0")) return "Invalid value: path contains NUL";
  if (!v.startsWith("/")) return `Invalid value: '${v}' must be an absolute path`;
  const parts = v.split("/");
  if (parts.includes("..") || parts.includes(".")) {
    return `Invalid value: '${v}' must not contain '.' or '..'`;
  }
  return null;
}

/** A path strictly below `root` (the Node creates it and hands it to its real user). */
export function insideDataRoot(v: string, root: string): boolean {
  const base = root.replace(/\/+$/, "");
  const dir = v.replace(/\/+/g, "/").replace(/\/+$/, "");
  return dir.startsWith(base + "/") && dir.length > base.length + 1;
}

function dataDirectory(v: string, ctx: CheckContext): string | null {
  const problem = path(v);
  if (problem) return problem;
  return insideDataRoot(v, ctx.dataRoot)
    ? null
    : `Invalid value: '${v}' is not below the data root '${ctx.dataRoot}' (masq.data_root)`;
}

/** Every parameter, sorted by name. */
export const SETUP_PARAMS: readonly ParamSpec[] = [
  {
    name: "blockchain-service-url",
    check: matching(/^https?:\/\/[^\s]+$/, "an http(s) URL"),
    defaultValue: none,
    required: notZeroHop,
  },
  {
    name: "chain",
    check: oneOfValues(CHAINS),
    defaultValue: () => DEFAULT_CHAIN,
    required: always,
  },
  {
    name: "clandestine-port",
    check: numberIn(1025n, 65535n),
    defaultValue: none,
    required: always,
  },
  {
    name: "config-file",
    check: (v) =>
      v.includes("\0") || v.startsWith("-") ? `Invalid value: '${v}' is not a file name` : null,
    defaultValue: () => "config.toml",
    required: never,
  },
  {
    name: "consuming-private-key",
    check: matching(/^(0x)?[0-9a-fA-F]{64}$/, "64 hexadecimal digits"),
    defaultValue: none,
    required: never,
    censorLength: 64,
  },
  {
    name: "crash-point",
    check: oneOfValues(["none", "panic", "error", "message"]),
    defaultValue: none,
    required: never,
  },
  {
    name: "data-directory",
    check: dataDirectory,
    defaultValue: (c) => `${c.dataRoot.replace(/\/+$/, "")}/${c.chain}`,
    required: always,
  },
  {
    name: "db-password",
    check: (v) => (v.length === 0 ? "Invalid value: the password must not be empty" : null),
    defaultValue: none,
    required: notZeroHop,
    censorLength: 16,
  },
  {
    name: "dns-servers",
    check: (v) =>
      v.split(",").every((s) => IPV4.test(s.trim()))
        ? null
        : `Invalid value: '${v}' is not a comma-separated list of IPv4 addresses`,
    defaultValue: (c) => (c.dnsServers.length > 0 ? c.dnsServers.join(",") : null),
    required: (c) => c.neighborhoodMode !== "consume-only",
  },
  {
    name: "earning-wallet",
    check: matching(/^0x[0-9a-fA-F]{40}$/, "a wallet address (0x and 40 hexadecimal digits)"),
    defaultValue: none,
    required: never,
  },
  {
    name: "gas-price",
    check: numberIn(1n, (1n << 64n) - 1n),
    defaultValue: () => "1",
    required: notZeroHop,
  },
  { name: "ip", check: matching(IPV4, "an IPv4 address"), defaultValue: none, required: never },
  {
    name: "log-level",
    check: oneOfValues(["off", "error", "warn", "info", "debug", "trace"]),
    defaultValue: () => "warn",
    required: always,
  },
  {
    name: "mapping-protocol",
    check: oneOfValues(["pcp", "pmp", "igdp"]),
    defaultValue: none,
    required: never,
  },
  { name: "min-hops", check: numberIn(1n, 6n), defaultValue: () => "3", required: never },
  {
    name: "neighborhood-mode",
    check: oneOfValues(MODES),
    defaultValue: () => "standard",
    required: always,
  },
  {
    name: "neighbors",
    check: (v) =>
      v.split(",").every((d) => /^masq:\/\/[\w-]+:[^\s,@]+@[^\s,]*$/.test(d.trim()))
        ? null
        : `Invalid value: '${v}' is not a comma-separated list of node descriptors`,
    defaultValue: none,
    required: (c) => c.neighborhoodMode !== "standard" && c.neighborhoodMode !== "zero-hop",
  },
  {
    name: "new-public-key",
    check: oneOfValues(["on", "off"]),
    defaultValue: none,
    required: never,
  },
  {
    name: "payment-thresholds",
    check: pipeNumbers(
      6,
      "debt|maturitySec|graceSec|permanentDebt|thresholdIntervalSec|unbanBelow",
    ),
    defaultValue: () => "1000000000|1200|1200|500000000|21600|500000000",
    required: always,
  },
  {
    name: "rate-pack",
    check: pipeNumbers(4, "routingByte|routingService|exitByte|exitService"),
    defaultValue: (c) =>
      c.neighborhoodMode === "standard" || c.neighborhoodMode === "originate-only"
        ? "53844|53844|107688|107688"
        : null,
    required: (c) => c.neighborhoodMode === "standard" || c.neighborhoodMode === "originate-only",
  },
  {
    name: "real-user",
    check: matching(/^\d*:\d*:\/[^\0:]*$|^\d*:\d*:$/, "of the form uid:gid:home"),
    defaultValue: (c) => c.realUser,
    required: never,
  },
  {
    name: "scan-intervals",
    check: pipeNumbers(3, "pendingPayable|payable|receivable seconds"),
    defaultValue: () => "600|600|600",
    required: always,
  },
  { name: "scans", check: oneOfValues(["on", "off"]), defaultValue: () => "on", required: never },
];

/** Parameter specs by name. */
export const PARAMS_BY_NAME: ReadonlyMap<string, ParamSpec> = new Map(
  SETUP_PARAMS.map((p) => [p.name, p]),
);
