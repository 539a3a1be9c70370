/**
 * The renter's session: $XDG_CONFIG_HOME/mnemo/session.json (default ~/.config/mnemo/), the
 * directory 0700 and the file 0600, because the access token in it spends the renter's money.
 * MNEMO_TOKEN and MNEMO_API_URL / --api-url override what is stored (for scripts and CI).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "./util.ts";

export const DEFAULT_API_URL = "http://127.0.0.1:8787";

export interface StoredSession {
  api_url: string;
  access_token: string;
  /** ISO time the token stops working. */
  expires_at: string;
  user: { id: string; email: string; role: string };
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "mnemo");
}

export function sessionPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "session.json");
}

export function readSession(env: NodeJS.ProcessEnv = process.env): StoredSession | null {
  let text: string;
  try {
    text = readFileSync(sessionPath(env), "utf8");
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as StoredSession;
    return s && typeof s.access_token === "string" && typeof s.api_url === "string" ? s : null;
  } catch {
    return null;
  }
}

export function writeSession(s: StoredSession, env: NodeJS.ProcessEnv = process.env): string {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = sessionPath(env);
  const tmp = `${path}.${process.pid}.tmp`;
  // Created 0600 from the start: the token is never readable by others, not even for a moment.
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}

export function clearSession(env: NodeJS.ProcessEnv = process.env): boolean {
  const path = sessionPath(env);
  try {
    readFileSync(path);
  } catch {
    return false;
  }
  rmSync(path, { force: true });
  return true;
}

export interface Resolved {
  apiUrl: string;
  token: string | null;
  tokenSource: "MNEMO_TOKEN" | "session" | null;
  session: StoredSession | null;
}

/** --api-url, else MNEMO_API_URL, else the session's, else the local default. */
export function resolveAuth(flagUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): Resolved {
  const session = readSession(env);
  const apiUrl = (flagUrl || env.MNEMO_API_URL || session?.api_url || DEFAULT_API_URL).replace(/\/+$/, "");
  try {
    const u = new URL(apiUrl);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw new UsageError(`--api-url must be an http(s) URL, got "${apiUrl}".`);
  }
  if (env.MNEMO_TOKEN) return { apiUrl, token: env.MNEMO_TOKEN, tokenSource: "MNEMO_TOKEN", session };
  // A stored token belongs to the API it was issued by: never send it to another one.
  if (session && session.api_url.replace(/\/+$/, "") === apiUrl && Date.parse(session.expires_at) > Date.now()) {
    return { apiUrl, token: session.access_token, tokenSource: "session", session };
  }
  return { apiUrl, token: null, tokenSource: null, session };
}
