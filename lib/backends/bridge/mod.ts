/**
 * Host networking for containers: the bridge with its gateway addresses, forwarding sysctls,
 * live address changes inside a container's namespace, and the host prerequisite check.
 *
 * @module
 */
export * from "./host.ts";
export * from "./link.ts";
export * from "./netns.ts";
export * from "./route.ts";
export * from "./sysctl.ts";
