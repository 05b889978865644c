/** The built-in Node's `configuration` payload: its arguments, with the values it has stored. */
import { DEFAULT_CHAIN } from "../setup_params.ts";

function splitNumbers(value: string, names: readonly string[]): Record<string, bigint> {
  const parts = value.split("|");
  return Object.fromEntries(names.map((n, i) => [n, BigInt(parts[i] ?? "0")]));
}

/** The `configuration` reply payload for these `--name value` arguments and stored values. */
export function nodeConfiguration(
  args: ReadonlyMap<string, string>,
  stored: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const arg = (name: string) => args.get(name);
  const gasPrice = stored["gas-price"] ?? arg("gas-price") ?? "1";
  const startBlock = stored["start-block"];
  const thresholds = arg("payment-thresholds") ?? "1000000000|1200|1200|500000000|21600|500000000";
  const ratePack = arg("rate-pack") ?? "53844|53844|107688|107688";
  const scans = arg("scan-intervals") ?? "600|600|600";
  return {
    blockchainServiceUrlOpt: arg("blockchain-service-url") ?? null,
    chainName: arg("chain") ?? DEFAULT_CHAIN,
    clandestinePort: Number(arg("clandestine-port") ?? 0),
    currentSchemaVersion: "10",
    earningWalletAddressOpt: arg("earning-wallet") ?? null,
    gasPrice: BigInt(gasPrice),
    maxBlockCount: null,
    neighborhoodMode: arg("neighborhood-mode") ?? "standard",
    portMappingProtocol: arg("mapping-protocol") ?? null,
    startBlock: startBlock === undefined ? null : BigInt(startBlock),
    consumingWalletPrivateKeyOpt: null,
    consumingWalletAddressOpt: null,
    pastNeighbors: [],
    paymentThresholds: splitNumbers(thresholds, [
      "debtThresholdGwei",
      "maturityThresholdSec",
      "paymentGracePeriodSec",
      "permanentDebtAllowedGwei",
      "thresholdIntervalSec",
      "unbanBelowGwei",
    ]),
    ratePack: splitNumbers(ratePack, [
      "routingByteRate",
      "routingServiceRate",
      "exitByteRate",
      "exitServiceRate",
    ]),
    scanIntervals: splitNumbers(scans, ["pendingPayableSec", "payableSec", "receivableSec"]),
  };
}
