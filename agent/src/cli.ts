/**
 * Command line entry. Expected failures (bad flags, bad config, refused key) end with one
 * sentence on stderr and a non-zero exit code; only a bug shows a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { Agent, FatalError } from "./agent.ts";
import { type CommandLine, dispatch, printHelp, UsageError } from "./command-line.ts";
import { applyEnv, ConfigError, loadConfig, readConfigFile, resolveConfigPath, validateConfig } from "./config.ts";
import type { InitFlags } from "./init.ts";
import { createLogger } from "./log.ts";
import { VERSION } from "./version.ts";

const MAIN_HELP = `mnemo-agent ${VERSION}: rent out this machine's idle RAM and VRAM on Mnemo.

Usage:
  mnemo-agent init [flags]        write the config file (asks for what flags leave out)
  mnemo-agent start [flags]       register this machine once, then heartbeat and hold contracts
  mnemo-agent status [flags]      the seller's dashboard: node, capacity, contracts, earnings
  mnemo-agent help <command>      details of one command

Global flags:
  -c, --config <path>   config file (default: $MNEMO_AGENT_CONFIG, else ./.mnemo-agent.json
                        when it exists, else ~/.config/mnemo/agent.json)
  -h, --help            show help
  -v, --version         show the version

Environment:
  MNEMO_API_URL, MNEMO_API_KEY   override api_url and api_key from the config file
  MNEMO_AGENT_CONFIG             config file path

Quick start:
  mnemo-agent init --api-url https://mnemo.example.com --api-key mk_... --region eu-west
  mnemo-agent start
`;

const HELP: Record<string, string> = {
  start: `mnemo-agent start [--config <path>] [--json] [--heartbeat-interval <sec>]

Registers this machine as a node the first time (and saves node_id in the config, so a restart
reuses the node), then sends a heartbeat at the interval the server asks for, reporting the memory
it offers: available RAM minus your reserve and what leases hold, nothing outside the idle
schedule. Every lease is served on the lease endpoint (Redis protocol, endpoint_port, default
7379): a new contract arrives on the push channel (heartbeats are the fallback), its lease is
opened and the server told it is ready; a contract the machine cannot hold is rejected (the
renter is never charged). When a contract ends its connections close, its memory is wiped, and
the receipt (digest) goes in the next heartbeat.

Network errors and server errors are retried with exponential backoff; the agent never gives up.
A refused API key stops it with exit code 1. SIGINT/SIGTERM (Ctrl-C) closes and wipes every
lease, reports the receipts, hands their contracts back for failover (renters pay only for the
time held), sets the node to maintenance and exits 0.

Flags:
  -c, --config <path>            config file
      --json                     one JSON object per log line (for log collectors)
      --heartbeat-interval <sec> heartbeat at most this often (the server's interval wins when longer)
`,
  init: `mnemo-agent init [--config <path>] [flags] [--force]

Writes the config file. At a terminal it asks for every value not given as a flag; without a
terminal (scripts) it takes flags only and says which required ones are missing.

Required:
      --api-url <url>            the Mnemo API, e.g. https://mnemo.example.com (or MNEMO_API_URL)
      --api-key <key>            a provider's API key (or MNEMO_API_KEY)
      --region <region>          market region, e.g. eu-west
Optional:
      --name <name>              node name (default: this host's name)
      --node-type <type>         datacenter | edge_cluster | mist_node (default mist_node)
      --latitude <deg> --longitude <deg>   where the machine is, for renters nearby
      --price <usd>              USD per GB-second (default 0.0000008)
      --idle-schedule <text>     when to offer memory: "always" (default) or "9am-5pm, 11pm-7am"
      --reserve <gb>             RAM never offered (default: the larger of 4 GB and 20 % of total)
      --bandwidth <mbps>         default 1000
      --latency <ms>             base latency, default 5
      --heartbeat-interval <sec> heartbeat at most this often (default: the server's interval)
      --force                    overwrite an existing config (its node_id is kept)
`,
  status: `mnemo-agent status [--config <path>] [--json]

Shows the node as the market sees it (status, capacity offered and held, contracts, earnings,
last heartbeat) next to this machine's memory right now. Works whether or not the agent is
running.

Flags:
  -c, --config <path>   config file
      --json            print the report as JSON
`,
};

const COMMON = {
  config: { type: "string", short: "c" },
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

const INIT_OPTIONS = {
  ...COMMON,
  "api-url": { type: "string" },
  "api-key": { type: "string" },
  name: { type: "string" },
  "node-type": { type: "string" },
  region: { type: "string" },
  latitude: { type: "string" },
  longitude: { type: "string" },
  price: { type: "string" },
  bandwidth: { type: "string" },
  latency: { type: "string" },
  "idle-schedule": { type: "string" },
  reserve: { type: "string" },
  "heartbeat-interval": { type: "string" },
  force: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

const START_OPTIONS = { ...COMMON, "heartbeat-interval": { type: "string" } } as const satisfies ParseArgsConfig["options"];

function parse<O extends ParseArgsConfig["options"]>(args: string[], options: O, command: string) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/s, "")}. See mnemo-agent ${command} --help.`);
  }
}

function startHint(path: string): string {
  return path === resolveConfigPath(undefined, { ...process.env, MNEMO_AGENT_CONFIG: "" })
    ? "mnemo-agent start"
    : `mnemo-agent start --config ${path}`;
}

async function start(args: string[]): Promise<number> {
  const { values } = parse(args, START_OPTIONS, "start");
  if (values.help) return help("start");
  const path = resolveConfigPath(values.config);
  const raw = applyEnv(readConfigFile(path));
  if (values["heartbeat-interval"] !== undefined) {
    const n = Number(values["heartbeat-interval"]);
    if (!Number.isInteger(n) || n <= 0)
      throw new UsageError(`--heartbeat-interval must be a whole number of seconds, got "${values["heartbeat-interval"]}".`);
    raw.heartbeat_interval = n;
  }
  const config = validateConfig(raw, path);
  const logger = createLogger(Boolean(values.json));
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      logger.info("stopping", `${sig} received: setting the node to maintenance and stopping`, { signal: sig });
      stop.abort();
    } else {
      // A second Ctrl-C means "now": the owner wants the process gone.
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await new Agent({ config, configPath: path, logger, signal: stop.signal }).run();
  } catch (e) {
    if (e instanceof FatalError) {
      logger.error("fatal", e.message, { exit_code: e.exitCode });
      return e.exitCode;
    }
    throw e;
  }
}

async function init(args: string[]): Promise<number> {
  const { values } = parse(args, INIT_OPTIONS, "init");
  if (values.help) return help("init");
  const path = resolveConfigPath(values.config);
  // init and status load on demand: the long-running `start` need not carry them.
  const { runInit } = await import("./init.ts");
  await runInit(path, values as InitFlags, startHint(path));
  return 0;
}

async function status(args: string[]): Promise<number> {
  const { values } = parse(args, COMMON, "status");
  if (values.help) return help("status");
  const path = resolveConfigPath(values.config);
  const config = loadConfig(path);
  const { collectStatus, renderStatus } = await import("./status.ts");
  const report = await collectStatus(config, path);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
  return report.problems.length && !report.node && config.node_id ? 1 : 0;
}

const CLI: CommandLine = {
  mainHelp: MAIN_HELP,
  help: HELP,
  unknownHelp: (command) => `Unknown command "${command}". Commands: init, start, status.`,
  unknownCommand: (command) => `Unknown command "${command}". Commands: init, start, status (mnemo-agent --help).`,
  commands: { start, init, status },
};

const help = (command?: string): number => printHelp(CLI, command);

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(CLI, argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`mnemo-agent: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`mnemo-agent: ${e.message}\n`);
      return 78; // EX_CONFIG: a wrong config, not a crash
    }
    if (e instanceof FatalError) {
      process.stderr.write(`mnemo-agent: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
