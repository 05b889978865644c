/** The work folder of started processes: created, and handed to the run-as account when root. */
import { ForbiddenError } from "../../core/mod.ts";
import { type Account, canUseDirectory, resolveAccount } from "./users.ts";

/**
 * Creates `dir` (0750); when the agent is root and `runAs` names an account, chowns `dir` to it
 * and checks the account can reach it (ForbiddenError otherwise). The account, or null when
 * processes run as the agent.
 */
export async function prepareWorkDir(dir: string, runAs: string): Promise<Account | null> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o750 });
  const account = Deno.uid() === 0 && runAs ? resolveAccount(runAs) : null;
  if (account) {
    await Deno.chown(dir, account.uid, account.gid);
    if (!canUseDirectory(dir, account)) {
      throw new ForbiddenError(
        `"${dir}" is not reachable by uid ${account.uid} (check the modes of its parent folders)`,
      );
    }
  }
  return account;
}
