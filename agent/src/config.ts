/**
 * The agent's config file (JSON). Field names are the API's, so a config reads like the node it
 * registers. `node_id` is written back after registration: it is what makes a restart reuse the
 * node instead of creating a second one.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir, hostname, networkInterfaces } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { parseIdleSchedule, ScheduleError } from "./schedule.ts";

export const NODE_TYPES = ["datacenter", "edge_cluster", "mist_node"] as const;

const idleSchedule = z.string().superRefine((value, ctx) => {
  try {
    parseIdleSchedule(value);
  } catch (e) {
    if (!(e instanceof ScheduleError)) throw e;
    ctx.addIssue({ code: "custom", message: e.message });
  }
});

export const configSchema = z
  .object({
    api_url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://mnemo.example.com" }),
    api_key: z.string().min(1, "is empty: create an API key in the dashboard or with POST /api/auth/api-keys"),
    node_type: z.enum(NODE_TYPES).default("mist_node"),
    name: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .default(() => hostname().slice(0, 100)),
    region: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9][a-z0-9-]*$/, "must be lowercase letters, digits and dashes, e.g. eu-west"),
    latitude: z.number().min(-90).max(90).optional(),
    longitude: z.number().min(-180).max(180).optional(),
    price_per_gb_sec: z
      .number()
      .positive()
      .max(1)
      .refine((p) => Math.abs(p * 1e9 - Math.round(p * 1e9)) < 1e-6, "has more than 9 decimal places (USD per GB-second)")
      .default(0.0000008),
    bandwidth_mbps: z.number().int().positive().default(1000),
    base_latency_ms: z.number().int().nonnegative().default(5),
    idle_schedule: idleSchedule.default("always"),
    /** Seconds between heartbeats; the server's `next_heartbeat_sec` wins when it asks for longer. */
    heartbeat_interval: z.number().int().positive().max(3600).optional(),
    /** GB of RAM never offered; default the larger of 4 GB and 20 % of total RAM. */
    reserve_ram_gb: z.number().nonnegative().optional(),
    /** GB of VRAM never offered. */
    reserve_vram_gb: z.number().nonnegative().default(0),
    /** Offer terms sent at registration. */
    min_duration_sec: z.number().int().positive().optional(),
    max_duration_sec: z.number().int().positive().optional(),
    egress_price_per_gb: z.number().nonnegative().optional(),
    node_id: z.uuid().optional(),
    /** TCP port of the lease endpoint (the Redis-protocol server renters connect to); 0 = any free port. */
    endpoint_port: z.number().int().min(0).max(65535).default(7379),
    /** Address the lease endpoint listens on. */
    endpoint_bind: z.union([z.ipv4(), z.ipv6()], { error: "must be an IP address such as 0.0.0.0, 127.0.0.1 or ::" }).default("0.0.0.0"),
    /** Host renters are told to connect to; default the machine's first non-internal IPv4 (see defaultEndpointHost). */
    endpoint_host: z
      .string()
      .max(253)
      .regex(
        /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/,
        "must be a host name, an IPv4 address or a bracketed IPv6 address such as [::1]",
      )
      .optional(),
    /**
     * DEMO ONLY. Pretend this machine has this many GB of RAM: offered and registered as such
     * whatever the hardware says. The lease server allocates bytes only as renters write them, so
     * the quota is a promise the demo node makes, not memory set aside.
     */
    simulate_ram_gb: z.number().int().nonnegative().max(1_000_000).optional(),
    /**
     * DEMO ONLY. Offer this many GB of VRAM backed by host memory (no device backend exists yet):
     * the node's metadata labels it simulated.
     */
    simulate_vram_gb: z.number().int().nonnegative().max(1_000_000).optional(),
  })
  .strict()
  .refine((c) => (c.latitude === undefined) === (c.longitude === undefined), {
    path: ["latitude"],
    message: "and longitude go together: set both or neither",
  })
  .refine((c) => c.min_duration_sec === undefined || c.max_duration_sec === undefined || c.min_duration_sec <= c.max_duration_sec, {
    path: ["min_duration_sec"],
    message: "must be <= max_duration_sec",
  });

export type AgentConfig = z.infer<typeof configSchema>;

/**
 * The address renters are given when the config names none: the machine's first non-internal
 * IPv4 (what another machine on the LAN can reach), else loopback, so a laptop with no network
 * still serves itself.
 */
export function defaultEndpointHost(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string {
  for (const addrs of Object.values(interfaces)) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}
/** What a config file may contain before defaults are applied. */
export type ConfigFile = z.input<typeof configSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** `--config`, else `MNEMO_AGENT_CONFIG`, else `./.mnemo-agent.json` when it exists, else the per-user file. */
export function resolveConfigPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.MNEMO_AGENT_CONFIG) return resolve(env.MNEMO_AGENT_CONFIG);
  const local = resolve(".mnemo-agent.json");
  if (existsSync(local)) return local;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "mnemo", "agent.json");
}

/** One readable sentence per wrong field, naming it the way it is spelled in the file. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.join(".") : "(file)";
      if (issue.code === "unrecognized_keys")
        return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
      if (issue.code === "invalid_type" && issue.input === undefined) return `"${field}" is missing`;
      return `"${field}" ${issue.message}`;
    })
    .join("; ");
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new ConfigError(`No config file at ${path}. Create one with \`mnemo-agent init\`, or pass --config <path>.`);
    throw new ConfigError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`${path} must contain a JSON object.`);
  return raw as Record<string, unknown>;
}

/** The environment wins over the file, so a key can live in a secret store rather than on disk. */
export function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out = { ...raw };
  if (env.MNEMO_API_URL) out.api_url = env.MNEMO_API_URL;
  if (env.MNEMO_API_KEY) out.api_key = env.MNEMO_API_KEY;
  return out;
}

export function validateConfig(raw: Record<string, unknown>, source: string): AgentConfig {
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new ConfigError(`Invalid config in ${source}: ${describeIssues(parsed.error)}.`);
  return { ...parsed.data, api_url: parsed.data.api_url.replace(/\/+$/, "") };
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return validateConfig(applyEnv(readConfigFile(path), env), path);
}

/**
 * Writes atomically (temp file + rename) so a crash never leaves a half-written config, and
 * with mode 0600 because the file holds an API key.
 */
export function writeConfigFile(path: string, data: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Saves the node id into the file as it is on disk (not the env-merged config), so an API key
 * given through MNEMO_API_KEY is never copied into the file.
 */
export function saveNodeId(path: string, nodeId: string): void {
  const raw = readConfigFile(path);
  raw.node_id = nodeId;
  writeConfigFile(path, raw);
}
