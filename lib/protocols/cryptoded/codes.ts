/** Response codes of the cryptoded document and their text phrases (command codes: schemas.ts). */

/** Response codes. */
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

/** A response code. */
export type RespCode = typeof Resp[keyof typeof Resp];

const NAMES = new Map<number, string>(Object.entries(Resp).map(([k, v]) => [v, k]));

/** `COD_RESP_<NAME>` without the prefix, e.g. `CONN_NOT_FOUND`. */
export function respName(code: number): string {
  return NAMES.get(code) ?? `CODE_${code}`;
}

/** The plain-text phrase the real daemon sends for each code (text mode). */
export const RESP_TEXT: Readonly<Record<number, string>> = {
  [Resp.OK]: "Success",
  [Resp.INVALID_CMD]: "Invalid command",
  [Resp.SOCK_CONN]: "Couldn't connect to cryptoded process",
  [Resp.JSON_INVALID]: "Invalid JSON command",
  [Resp.NO_MEMORY]: "Insufficient memory",
  [Resp.SUDO_REQUIRED]: "Root privilege is required",
  [Resp.COD_NOT_RUNNING]: "cryptoded process isn't running",
  [Resp.SEND_SIG]: "Couldn't send signal to the process",
  [Resp.INVALID_PROFILE_TYPE]: "Invalid VPN profile type",
  [Resp.INVALID_CONF_DIR]: "Invalid VPN configuration directory",
  [Resp.IMPORT_TOO_LARGE]: "Too large VPN profile",
  [Resp.IMPORT_EXIST_PROFILE]: "The VPN profile already exists",
  [Resp.EMPTY_LIST]: "Empty List",
  [Resp.WRONG_PERMISSION]: "Wrong permission",
  [Resp.CONN_NOT_FOUND]: "Connection not found",
  [Resp.CONN_ALREADY_CONNECTED]: "Already connected",
  [Resp.CONN_ALREADY_DISCONNECTED]: "Already disconnected",
  [Resp.CONN_IN_PROGRESS]: "Connection/Disconnection is in progress",
  [Resp.NO_EXIST_DNS_UTIL]: "DNS utility doesn't exist",
  [Resp.ERR_DNS_UTIL]: "DNS utility failed",
  [Resp.UNKNOWN_ERR]: "Unknown error",
};
