/** The `polyagent` command line (commander): serve, config check/print, upgrade, version, ctl, … */
import { Command, CommanderError, Option } from "commander";
import {
  type AgentConfig,
  type AnyServiceDefinition,
  configToToml,
  type CtlEnvironment,
  loadConfig,
} from "../core/mod.ts";
import { exitStatusFor } from "./exit_status.ts";
import { type CliExtension, ExitStatus, type ExtraProgram } from "./extension.ts";
import { serveFromArgs } from "./serve.ts";

/** What the CLI needs from `main.ts`. */
export interface CliOptions {
  definitions: readonly AnyServiceDefinition[];
  /** What each service adds to the command line (ctl clients, extra programs). */
  extensions: readonly CliExtension[];
  version: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function print(line: string): void {
  console.log(line);
}

const configOption = () =>
  new Option(
    "-c, --config <file>",
    "config file (default /etc/polyagent/polyagent.toml if present)",
  );
const setOption = () =>
  new Option("--set <section.key=value>", "override a config value (repeatable)")
    .argParser(collect).default([]);

/** Loads the effective config for a command. */
type ConfigLoader = (file: string | undefined, sets: string[]) => Promise<AgentConfig>;

function addServe(program: Command, definitions: readonly AnyServiceDefinition[]): void {
  program.command("serve")
    .description("run the agent: start every enabled service until SIGTERM or Ctrl-C")
    .addOption(configOption())
    .addOption(setOption())
    .action(async (opts: { config?: string; set: string[] }) => {
      const code = await serveFromArgs({ config: opts.config, sets: opts.set }, definitions);
      if (code !== 0) throw new ExitStatus(code);
    });
}

function addUpgrade(program: Command, load: ConfigLoader): void {
  program.command("upgrade")
    .description(
      "replace the running agent with a new process without dropping a request, tunnel or process",
    )
    .addOption(configOption())
    .addOption(setOption())
    .option("--binary <file>", "start this executable instead of the one the agent runs")
    .option("--socket <path>", "the agent control socket (default <run_dir>/polyagent.sock)")
    .option("--timeout <ms>", "give up after this long", (v) => Number(v), 120_000)
    .option("--json", "print the agent's replies as JSON lines")
    .action(async (opts: {
      config?: string;
      set: string[];
      binary?: string;
      socket?: string;
      timeout: number;
      json?: boolean;
    }) => {
      const { runUpgradeCommand } = await import("./upgrade.ts");
      await runUpgradeCommand(await load(opts.config, opts.set), {
        ...(opts.binary ? { binary: opts.binary } : {}),
        ...(opts.socket ? { socket: opts.socket } : {}),
        timeoutMs: opts.timeout,
        json: opts.json ?? false,
      }, print);
    });
}

function addConfig(program: Command, load: ConfigLoader): void {
  const configCmd = program.command("config").description("check or print the configuration");
  configCmd.command("check")
    .description("validate a config file (exit status 2 when it is invalid)")
    .argument("[file]", "the file to check (default: --config or /etc/polyagent/polyagent.toml)")
    .addOption(setOption())
    .action(async (file: string | undefined, opts: { set: string[] }) => {
      const config = await load(file, opts.set);
      print(`${config.source}: ok`);
    });
  configCmd.command("print")
    .description("print the effective configuration as TOML, defaults filled in")
    .addOption(configOption())
    .addOption(setOption())
    .action(async (opts: { config?: string; set: string[] }) => {
      const config = await load(opts.config, opts.set);
      Deno.stdout.writeSync(new TextEncoder().encode(configToToml(config)));
    });
}

function addVersion(program: Command, options: CliOptions): void {
  program.command("version")
    .description("print polyagent, Deno and target versions and the services compiled in")
    .action(() => {
      print(`polyagent ${options.version}`);
      print(
        `deno ${Deno.version.deno} (v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`,
      );
      print(`target ${Deno.build.target}`);
      print(`services ${options.definitions.map((d) => d.name).join(", ")}`);
    });
}

/** Adds the `ctl` group; its environment loads the config once, honouring `ctl -c/--set`. */
function addCtl(program: Command, load: ConfigLoader): { ctl: Command; env: CtlEnvironment } {
  const ctl = program.command("ctl")
    .description("talk to a running agent's services with their own protocols")
    .addOption(configOption())
    .addOption(setOption());
  let ctlConfig: Promise<AgentConfig> | null = null;
  const env: CtlEnvironment = {
    config: () => {
      const opts = ctl.opts<{ config?: string; set: string[] }>();
      ctlConfig ??= load(opts.config, opts.set);
      return ctlConfig;
    },
    print,
  };
  return { ctl, env };
}

/**
 * Builds the commander program. Protocol clients and extra programs are registered (and their
 * code loaded) only when `lazyCommands` is set; `serve` leaves them out so the agent does not
 * carry client code.
 */
export async function buildProgram(options: CliOptions, lazyCommands = true): Promise<Command> {
  const { definitions } = options;
  const program = new Command("polyagent")
    .description(
      "One agent behind five control protocols: cryptoded, Quix WSI, sozu, Intervirt, MASQ",
    )
    .version(options.version, "-V, --version", "print the version number")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  const load: ConfigLoader = (file, sets) => loadConfig({ file, sets, definitions });
  addServe(program, definitions);
  addConfig(program, load);
  addUpgrade(program, load);
  addVersion(program, options);
  const { ctl, env } = addCtl(program, load);
  if (lazyCommands) {
    for (const extension of options.extensions) await extension.registerCtl?.(ctl, env);
    for (const extension of options.extensions) {
      for (const extra of extension.programs ?? []) addProgram(program, extra);
    }
  }
  return program;
}

/** Adds a second program as a subcommand that takes its arguments raw. */
function addProgram(program: Command, extra: ExtraProgram): void {
  program.command(extra.name)
    .description(extra.description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]", "the program's own arguments")
    .action(async (args: string[]) => {
      const code = await extra.run(args);
      if (code !== 0) throw new ExitStatus(code);
    });
}

/** Runs the full commander program; resolves with the process exit status. */
export async function runProgram(argv: readonly string[], options: CliOptions): Promise<number> {
  const program = await buildProgram(options, argv[0] !== "serve");
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" || error.code === "commander.version" ||
        error.code === "commander.help"
      ) return 0;
      return 2;
    }
    return exitStatusFor(error);
  }
}
