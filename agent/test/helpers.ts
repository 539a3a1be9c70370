/** Runs the real agent binary as a child process and watches its output. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const AGENT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = join(AGENT_ROOT, "bin/mnemo-agent.mjs");

export interface AgentProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Parsed lines of `--json` output. */
  events: () => Array<Record<string, unknown>>;
  waitFor: (pred: (all: string) => boolean, what: string, timeoutMs?: number) => Promise<void>;
  waitForEvent: (pred: (e: Record<string, unknown>) => boolean, what: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill: (sig?: NodeJS.Signals) => void;
}

export function tempConfig(content: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "mnemo-agent-test-"));
  const path = join(dir, "agent.json");
  writeFileSync(path, JSON.stringify(content, null, 2));
  return path;
}

export function runAgent(
  args: string[],
  env: Record<string, string | undefined> = {},
  opts: { stdin?: "ignore" | "pipe" } = {},
): AgentProcess {
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({
    ...process.env,
    MNEMO_API_URL: undefined,
    MNEMO_API_KEY: undefined,
    MNEMO_AGENT_CONFIG: undefined,
    ...env,
  })) {
    if (v !== undefined) cleanEnv[k] = v;
  }
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv, stdio: [opts.stdin ?? "ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on("exit", (code, signal) => r({ code, signal })),
  );
  let done = false;
  void exited.then(() => (done = true));
  const events = () =>
    out
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const waitFor = async (pred: (all: string) => boolean, what: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pred(out + err)) {
      if (done) throw new Error(`agent exited before ${what}\nstdout:\n${out}\nstderr:\n${err}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstdout:\n${out}\nstderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const waitForEvent = async (pred: (e: Record<string, unknown>) => boolean, what: string, timeoutMs?: number) => {
    let found: Record<string, unknown> | undefined;
    await waitFor(() => (found = events().find(pred)) !== undefined, what, timeoutMs);
    return found!;
  };
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    events,
    waitFor,
    waitForEvent,
    exited,
    kill: (sig = "SIGTERM") => {
      if (!done) child.kill(sig);
    },
  };
}

/** A config whose lease endpoint is on loopback and any free port: other suites (and other checkouts) run agents at once. */
export function loopbackConfig(fields: Record<string, unknown>): string {
  return tempConfig({ heartbeat_interval: 1, endpoint_host: "127.0.0.1", endpoint_bind: "127.0.0.1", endpoint_port: 0, ...fields });
}

/** Signals a running agent and waits for it to exit: its exit code and how long that took. */
export async function stopAgent(p: AgentProcess, sig: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  p.kill(sig);
  const { code } = await p.exited;
  return { code, ms: Date.now() - t0 };
}

/** Runs a short command to completion. */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 20_000) {
  const p = runAgent(args, env);
  const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const { code } = await p.exited;
  clearTimeout(t);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
