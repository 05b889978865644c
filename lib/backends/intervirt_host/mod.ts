/**
 * The Intervirt agent's host: what it offers (root, the tools on PATH), the sockets it listens on
 * (`ss`, so a port forward never captures them), the host commands the agent runs on request
 * (update steps, shutdown, reboot), the runner for the short system tools, and the directory of
 * local rootfs images.
 *
 * @module
 */
export * from "./commands.ts";
export * from "./images.ts";
export * from "./listeners.ts";
export * from "./prerequisites.ts";
