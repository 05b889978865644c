/**
 * Response codes of both dialects and their text phrases (command codes: schemas.ts). Codes 0–19
 * are the same in both; the document (rvd era) ends with UNKNOWN_ERR=20, cryptode v1.x adds five
 * codes and moves UNKNOWN_ERR to 25.
 */

/** Response codes of the document dialect (`/var/run/rvd`). */
export const Resp = {
  OK: 0,
  INVALID_CMD: 1,
  SOCK_CONN: 2,
  JSON_INVALID: 3,
  NO_MEMORY: 4,
  SUDO_REQUIRED: 5,
  COD_NOT_RUNNING: 6,
  SEND_SIG: 7,
  INVALID_PROFILE_TYPE: 8,
  INVALID_CONF_DIR: 9,
  IMPORT_TOO_LARGE: 10,
  IMPORT_EXIST_PROFILE: 11,
  EMPTY_LIST: 12,
  WRONG_PERMISSION: 13,
  CONN_NOT_FOUND: 14,
  CONN_ALREADY_CONNECTED: 15,
  CONN_ALREADY_DISCONNECTED: 16,
  CONN_IN_PROGRESS: 17,
  NO_EXIST_DNS_UTIL: 18,
  ERR_DNS_UTIL: 19,
  UNKNOWN_ERR: 20,
} as const;

/** Response codes of the cryptode v1.x dialect (`/var/run/cryptoded.sock`). */
export const V1Resp = {
  ...Resp,
  ERR_WRONG_COC_PATH: 20,
  ERR_NOT_FOUND_VPNCONF: 21,
  ERR_VPNCONF_OPT_TYPE: 22,
  ERR_VPNCONF_OPT_VAL: 23,
  ERR_INVALID_OVPN_BIN: 24,
  UNKNOWN_ERR: 25,
} as const;

/** A response by name (the names of both dialects). */
export type RespName = keyof typeof V1Resp;

/** A document-dialect response code. */
export type RespCode = typeof Resp[keyof typeof Resp];

const NAMES = new Map<number, string>(Object.entries(Resp).map(([k, v]) => [v, k]));
const V1_NAMES = new Map<number, string>(Object.entries(V1Resp).map(([k, v]) => [v, k]));

/** `COD_RESP_<NAME>` without the prefix, e.g. `CONN_NOT_FOUND` (v1 numbering with `v1`). */
export function respName(code: number, v1 = false): string {
  return (v1 ? V1_NAMES : NAMES).get(code) ?? `CODE_${code}`;
}

/**
 * The text-mode phrase of each response. The original daemons had phrases for the responses they
 * produced (the first group; `WRONG_PERMISSION` only from v1.x) and "Unknown Error" for the rest;
 * the others are polyagent's, for the commands the originals left to their clients.
 */
export const RESP_TEXT: Readonly<Record<RespName, string>> = {
  OK: "Success",
  INVALID_CMD: "Invalid command",
  NO_MEMORY: "Insufficient memory",
  EMPTY_LIST: "Empty List",
  CONN_NOT_FOUND: "Connection not found",
  CONN_ALREADY_CONNECTED: "Already connected",
  CONN_ALREADY_DISCONNECTED: "Already disconnected",
  CONN_IN_PROGRESS: "Connection/Disconnection is in progress",
  WRONG_PERMISSION: "Wrong permission",
  UNKNOWN_ERR: "Unknown Error",
  SOCK_CONN: "Couldn't connect to cryptoded process",
  JSON_INVALID: "Invalid JSON command",
  SUDO_REQUIRED: "Root privilege is required",
  COD_NOT_RUNNING: "cryptoded process isn't running",
  SEND_SIG: "Couldn't send signal to the process",
  INVALID_PROFILE_TYPE: "Invalid VPN profile type",
  INVALID_CONF_DIR: "Invalid VPN configuration directory",
  IMPORT_TOO_LARGE: "Too large VPN profile",
  IMPORT_EXIST_PROFILE: "The VPN profile already exists",
  NO_EXIST_DNS_UTIL: "DNS utility doesn't exist",
  ERR_DNS_UTIL: "DNS utility failed",
  ERR_WRONG_COC_PATH: "Wrong path of cryptode",
  ERR_NOT_FOUND_VPNCONF: "VPN configuration not found",
  ERR_VPNCONF_OPT_TYPE: "Unknown VPN configuration option",
  ERR_VPNCONF_OPT_VAL: "Wrong VPN configuration option value",
  ERR_INVALID_OVPN_BIN: "Invalid OpenVPN binary",
};
