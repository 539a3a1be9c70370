/** mnemo login / logout / whoami. */
import { createInterface } from "node:readline";
import { clearSession, sessionPath, writeSession } from "./session.ts";
import type { Ctx } from "./context.ts";
import { out, printJson, UsageError } from "./util.ts";

function readAllStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d) => {
      data += d;
      if (data.length > 4096) reject(new UsageError("--password-stdin: more than 4 KiB on standard input."));
    });
    process.stdin.on("end", () => resolve(data));
    process.stdin.on("error", reject);
  });
}

function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) =>
    rl.question(question, (a) => {
      rl.close();
      resolve(a.trim());
    }),
  );
}

/** Reads a line with the terminal's echo off: the password never appears on screen or in a recording. */
function askHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    let value = "";
    const finish = (fn: () => void) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      fn();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish(() => resolve(value));
        if (ch === "\u0003") return finish(() => reject(new UsageError("Cancelled.")));
        if (ch === "\u0004" && value === "") return finish(() => reject(new UsageError("No password given.")));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

export async function login(ctx: Ctx, flags: { email?: string; "password-stdin"?: boolean }): Promise<number> {
  const tty = Boolean(process.stdin.isTTY);
  let email = flags.email?.trim();
  let password: string;
  if (flags["password-stdin"]) {
    if (!email) throw new UsageError("--password-stdin needs --email (standard input carries only the password).");
    password = (await readAllStdin()).replace(/\r?\n$/, "");
  } else {
    if (!tty)
      throw new UsageError("Standard input is not a terminal: pass --email and the password on standard input with --password-stdin.");
    if (!email) email = await ask("Email: ");
    password = await askHidden("Password: ");
  }
  if (!email) throw new UsageError("No email given.");
  if (!password) throw new UsageError("No password given.");
  const s = await ctx.call(ctx.api.POST("/api/auth/login", { body: { email, password } }));
  const expiresAt = new Date(Date.now() + s.expires_in * 1000).toISOString();
  const path = writeSession({
    api_url: ctx.apiUrl,
    access_token: s.access_token,
    expires_at: expiresAt,
    user: { id: s.user.id, email: s.user.email, role: s.user.role },
  });
  if (ctx.json) printJson({ user: s.user, api_url: ctx.apiUrl, expires_at: expiresAt, session_path: path });
  else out(`Logged in to ${ctx.apiUrl} as ${s.user.email} (${s.user.role}). Session saved to ${path}, valid until ${expiresAt}.`);
  return 0;
}

export function logout(ctx: Ctx): number {
  const removed = clearSession();
  if (ctx.json) printJson({ logged_out: removed, session_path: sessionPath() });
  else out(removed ? `Logged out: removed ${sessionPath()}.` : "Not logged in: there was no session to remove.");
  return 0;
}

export async function whoami(ctx: Ctx): Promise<number> {
  ctx.requireToken();
  const me = await ctx.call(ctx.api.GET("/api/auth/me"));
  if (ctx.json) {
    printJson({ ...me, api_url: ctx.apiUrl, token_source: ctx.tokenSource });
    return 0;
  }
  out(
    [
      `${me.user.email} (${me.user.role})`,
      `  user id    ${me.user.id}`,
      `  client id  ${me.client?.id ?? "-"}`,
      `  API        ${ctx.apiUrl}`,
      `  token      from ${ctx.tokenSource === "MNEMO_TOKEN" ? "MNEMO_TOKEN" : `${sessionPath()} (until ${ctx.session?.expires_at})`}`,
    ].join("\n"),
  );
  return 0;
}
