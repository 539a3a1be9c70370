/**
 * `mnemo-agent init`: writes the config from flags, asking for whatever is missing when a person
 * is at the terminal. Without a terminal (scripts, provisioning) it never waits for input.
 */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { createInterface } from "node:readline/promises";
import type { z } from "zod";
import { ConfigError, configSchema, describeIssues, NODE_TYPES, readConfigFile, writeConfigFile } from "./config.ts";

export interface InitFlags {
  "api-url"?: string;
  "api-key"?: string;
  name?: string;
  "node-type"?: string;
  region?: string;
  latitude?: string;
  longitude?: string;
  price?: string;
  bandwidth?: string;
  latency?: string;
  "idle-schedule"?: string;
  reserve?: string;
  "heartbeat-interval"?: string;
  force?: boolean;
}

interface Question {
  flag: keyof InitFlags;
  field: string;
  prompt: string;
  kind: "string" | "number" | "int";
  required?: boolean;
  /** Shown in brackets and used on an empty answer. */
  suggest?: () => string | undefined;
}

const QUESTIONS: Question[] = [
  { flag: "api-url", field: "api_url", prompt: "Mnemo API URL", kind: "string", required: true, suggest: () => process.env.MNEMO_API_URL },
  {
    flag: "api-key",
    field: "api_key",
    prompt: "API key (from the dashboard, or POST /api/auth/api-keys)",
    kind: "string",
    required: true,
    suggest: () => process.env.MNEMO_API_KEY,
  },
  { flag: "name", field: "name", prompt: "Node name", kind: "string", suggest: () => hostname().slice(0, 100) },
  { flag: "node-type", field: "node_type", prompt: `Node type (${NODE_TYPES.join(", ")})`, kind: "string", suggest: () => "mist_node" },
  { flag: "region", field: "region", prompt: "Region (e.g. eu-west)", kind: "string", required: true },
  { flag: "latitude", field: "latitude", prompt: "Latitude (empty to skip)", kind: "number" },
  { flag: "longitude", field: "longitude", prompt: "Longitude (empty to skip)", kind: "number" },
  { flag: "price", field: "price_per_gb_sec", prompt: "Price, USD per GB-second", kind: "number", suggest: () => "0.0000008" },
  {
    flag: "idle-schedule",
    field: "idle_schedule",
    prompt: 'Idle schedule ("always" or e.g. "9am-5pm, 11pm-7am")',
    kind: "string",
    suggest: () => "always",
  },
  {
    flag: "reserve",
    field: "reserve_ram_gb",
    prompt: "RAM kept for yourself, GB (empty: the larger of 4 GB and 20 % of total)",
    kind: "number",
  },
  { flag: "bandwidth", field: "bandwidth_mbps", prompt: "Bandwidth, Mbit/s", kind: "int", suggest: () => "1000" },
  { flag: "latency", field: "base_latency_ms", prompt: "Base latency, ms", kind: "int", suggest: () => "5" },
  { flag: "heartbeat-interval", field: "heartbeat_interval", prompt: "Heartbeat interval, s (empty: the server's)", kind: "int" },
];

function convert(q: Question, raw: string, asked = false): unknown {
  if (q.kind === "string") return raw;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) throw new ConfigError(`${asked ? q.field : `--${q.flag}`} must be a number, got "${raw}"`);
  return n;
}

/** Checks one field alone, so an interactive answer is refused as soon as it is typed. */
function fieldProblem(field: string, value: unknown): string | null {
  const schema = (configSchema.shape as Record<string, z.ZodType>)[field];
  if (!schema) return null;
  const r = schema.safeParse(value);
  return r.success ? null : (r.error?.issues[0]?.message ?? "is not valid");
}

/** `startHint`: how to start with this config ("mnemo-agent start" plus --config when it is not the default). */
export async function runInit(
  path: string,
  flags: InitFlags,
  startHint: string,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  let keep: Record<string, unknown> = {};
  if (existsSync(path)) {
    if (!flags.force)
      throw new ConfigError(`${path} already exists; pass --force to overwrite it (its node_id is kept, so the node stays the same).`);
    try {
      const old = readConfigFile(path);
      if (typeof old.node_id === "string") keep = { node_id: old.node_id };
    } catch {
      /* an unreadable old file has nothing worth keeping */
    }
  }

  const config: Record<string, unknown> = {};
  for (const q of QUESTIONS) {
    const v = flags[q.flag];
    if (typeof v === "string") config[q.field] = convert(q, v);
  }

  const interactive = Boolean(process.stdin.isTTY);
  if (interactive) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    // Ctrl-C at a prompt closes the questions; the pending one then rejects, handled below.
    rl.on("SIGINT", () => rl.close());
    try {
      out.write(`Setting up ${path} (Enter accepts the value in brackets).\n`);
      for (const q of QUESTIONS) {
        if (config[q.field] !== undefined) continue;
        for (;;) {
          const suggestion = q.suggest?.();
          const answer = (await rl.question(`${q.prompt}${suggestion ? ` [${suggestion}]` : ""}: `)).trim() || suggestion || "";
          if (answer === "") {
            if (!q.required) break;
            out.write(`  ${q.field} is required.\n`);
            continue;
          }
          try {
            const value = convert(q, answer, true);
            const problem = fieldProblem(q.field, value);
            if (problem) {
              out.write(`  ${q.field} ${problem}\n`);
              continue;
            }
            config[q.field] = value;
            break;
          } catch (e) {
            out.write(`  ${(e as Error).message}\n`);
          }
        }
      }
    } catch (e) {
      if ((e as { code?: string }).code === "ABORT_ERR" || (e as { code?: string }).code === "ERR_USE_AFTER_CLOSE") {
        out.write("\n");
        throw new ConfigError(`init cancelled; ${path} was not written.`);
      }
      throw e;
    } finally {
      rl.close();
    }
  } else {
    for (const q of QUESTIONS) {
      if (config[q.field] === undefined && q.suggest?.() && (q.flag === "api-url" || q.flag === "api-key")) config[q.field] = q.suggest();
    }
    const missing = QUESTIONS.filter((q) => q.required && config[q.field] === undefined).map((q) => `--${q.flag}`);
    if (missing.length) {
      throw new ConfigError(
        `Missing ${missing.join(", ")}: stdin is not a terminal, so init takes flags only (see mnemo-agent init --help).`,
      );
    }
  }

  const full = { ...config, ...keep };
  const parsed = configSchema.safeParse(full, { reportInput: true });
  if (!parsed.success) throw new ConfigError(`Not writing ${path}: ${describeIssues(parsed.error)}.`);
  // Only what was given or answered (plus node_id): a field left out keeps tracking the agent's
  // default, so a later version's better default reaches configs that never set it.
  writeConfigFile(path, full);
  out.write(`Wrote ${path}${keep.node_id ? ` (kept node ${keep.node_id})` : ""}. Start offering memory with: ${startHint}\n`);
}
