/**
 * The sozu control plane's saved-state files: where SAVE_STATE writes sozu's record stream and
 * LOAD_STATE reads it, confined to one directory. The protocol (lib/protocols/sozu) formats and
 * parses the records; this backend only resolves paths and moves bytes.
 *
 * @module
 */
export {
  MAX_STATE_FILE_BYTES,
  SozuStateFiles,
  type SozuStateFilesOptions,
  type SozuStateFileStore,
} from "./state_files.ts";
