/** The account started processes run as, and their work folder, reachable by that account. */
import {
  type Account,
  defaultAccountSpec,
  describeAccount,
  ForbiddenError,
  makeTraversableFolder,
  resolveAccount,
  unreachableFolder,
} from "../../core/mod.ts";

/**
 * The account `execute` runs as: null when the agent is not root (processes run as the agent),
 * else `runAs` (uid 0 only when it names root), else `agent.user`, the `polyagent` account, or
 * `nobody`. Throws TypeError for an unknown or malformed name.
 */
export function runAsAccount(runAs: string, agentUser: string): Account | null {
  if (Deno.uid() !== 0) return null;
  return resolveAccount(runAs || defaultAccountSpec(agentUser));
}

/**
 * Creates `dir` (0750; missing parents 0755) and, for an unprivileged `account`, hands it over
 * and checks that the account can reach it: ForbiddenError naming the folder in the way.
 */
export async function prepareWorkDir(dir: string, account: Account | null): Promise<void> {
  await makeTraversableFolder(dir, 0o750);
  if (!account || account.uid === 0) return;
  await Deno.chown(dir, account.uid, account.gid);
  const blocked = unreachableFolder(dir, account, { write: true });
  if (blocked) {
    throw new ForbiddenError(
      `"${dir}" is not reachable by ${describeAccount(account)}: ${blocked}`,
    );
  }
}
