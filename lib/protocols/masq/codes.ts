/**
 * The MASQNode-UIv2 error codes (`masq_lib/src/constants.rs`), as `bigint`: the
 * UI_NODE_COMMUNICATION codes exceed 2^53, so a JS number cannot hold them exactly.
 */

/** The WebSocket subprotocol name both the Daemon and the Node require. */
export const NODE_UI_PROTOCOL = "MASQNode-UIv2";

/** The Daemon's default UI port. */
export const DEFAULT_UI_PORT = 5333;

const CONFIGURATOR_PREFIX = 0x0001_0000_0000_0000n;
const UI_NODE_COMMUNICATION_PREFIX = 0x8000_0000_0000_0000n;

/** Every error code the Daemon, the built-in Node or the client uses. */
export const ErrorCode = {
  CONFIGURATOR_READ_ERROR: CONFIGURATOR_PREFIX | 1n,
  CONFIGURATOR_WRITE_ERROR: CONFIGURATOR_PREFIX | 2n,
  BAD_PASSWORD_ERROR: CONFIGURATOR_PREFIX | 6n,
  UNRECOGNIZED_PARAMETER: CONFIGURATOR_PREFIX | 11n,
  NON_PARSABLE_VALUE: CONFIGURATOR_PREFIX | 12n,
  MISSING_DATA: CONFIGURATOR_PREFIX | 13n,
  UNKNOWN_ERROR: CONFIGURATOR_PREFIX | 14n,
  NODE_LAUNCH_ERROR: UI_NODE_COMMUNICATION_PREFIX | 1n,
  NODE_NOT_RUNNING_ERROR: UI_NODE_COMMUNICATION_PREFIX | 2n,
  NODE_ALREADY_RUNNING_ERROR: UI_NODE_COMMUNICATION_PREFIX | 3n,
  UNMARSHAL_ERROR: UI_NODE_COMMUNICATION_PREFIX | 4n,
  SETUP_ERROR: UI_NODE_COMMUNICATION_PREFIX | 5n,
  TIMEOUT_ERROR: UI_NODE_COMMUNICATION_PREFIX | 6n,
} as const;

/** Opcodes the real `masq_lib/src/messages.rs` defines, with whether they are conversational. */
export const KNOWN_OPCODES: ReadonlyMap<string, "conv" | "oneway"> = new Map([
  ["changePassword", "conv"],
  ["checkPassword", "conv"],
  ["configuration", "conv"],
  ["configurationChanged", "oneway"],
  ["connectionChange", "oneway"],
  ["connectionStatus", "conv"],
  ["crash", "oneway"],
  ["crashed", "oneway"],
  ["descriptor", "conv"],
  ["exitLocation", "conv"],
  ["financials", "conv"],
  ["generateWallets", "conv"],
  ["logBroadcast", "oneway"],
  ["neighborhoodGraph", "conv"],
  ["newPassword", "oneway"],
  ["recoverWallets", "conv"],
  ["redirect", "oneway"],
  ["scan", "conv"],
  ["setConfiguration", "conv"],
  ["setup", "conv"],
  ["shutdown", "conv"],
  ["start", "conv"],
  ["undelivered", "oneway"],
  ["unmarshalError", "oneway"],
  ["walletAddresses", "conv"],
]);
