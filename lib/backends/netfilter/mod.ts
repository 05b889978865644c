/**
 * nftables for the agent: one `inet` table owned by the agent, rendered whole from a desired
 * state (pair isolation on the bridge, per-container masquerade, DNAT port forwards) and applied
 * atomically with `nft -f -`; set element changes go through a long-lived `nft -i` session.
 * Re-applying an unchanged state does nothing; {@linkcode AgentNftTable} holds all of it for one
 * table.
 *
 * @module
 */
export * from "./agent_table.ts";
export * from "./nft.ts";
export * from "./ruleset.ts";
export * from "./session.ts";
