/**
 * Host networking for containers: the bridge with its gateway addresses, forwarding sysctls,
 * host routes and proxy ARP, live address changes inside a container's namespace, and
 * {@linkcode ContainerBridge}, which binds them to one bridge and one runner.
 *
 * @module
 */
export * from "./container_bridge.ts";
export * from "./link.ts";
export * from "./netns.ts";
export * from "./route.ts";
export * from "./sysctl.ts";
