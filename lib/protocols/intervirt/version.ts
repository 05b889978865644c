/** The version the `version` command reports (the polyagent release). */
export const AGENT_VERSION = "0.1.0";
