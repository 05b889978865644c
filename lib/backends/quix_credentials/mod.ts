/**
 * The quix service's credentials: the password (inline, or the first line of a file) and the
 * extra CA certificate trusted for `wss://`, read from the files the `[quix]` section names.
 *
 * @module
 */
export * from "./credentials.ts";
