/** Small pieces every `mnemo` command shares: usage errors, durations, output. */
import { parseArgs, type ParseArgsConfig } from "node:util";

import { UsageError } from "../command-line.ts";

export { UsageError };

export const GLOBAL_OPTIONS = {
  "api-url": { type: "string" },
  json: { type: "boolean" },
  explain: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

export type GlobalFlags = { "api-url"?: string; json?: boolean; explain?: boolean; help?: boolean };

export function parse<O extends ParseArgsConfig["options"]>(args: string[], options: O, command: string, positionals = true) {
  try {
    return parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: positionals,
      strict: true,
      allowNegative: false,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/s, "").replace(/\.$/, "")}. See mnemo ${command} --help.`);
  }
}

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "10m", "2h", "1d" (or bare seconds) → whole seconds. */
export function parseDuration(text: string | undefined, flag: string): number {
  if (text === undefined) throw new UsageError(`${flag} is required (e.g. ${flag} 10m).`);
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} must be a duration like 90s, 10m, 2h or 1d, got "${text}".`);
  const sec = Number(m[1]) * UNIT[m[2] || "s"];
  if (!Number.isSafeInteger(sec) || sec <= 0) throw new UsageError(`${flag} must be longer than 0, got "${text}".`);
  return sec;
}

export function formatDuration(sec: number): string {
  if (sec % 86400 === 0) return `${sec / 86400}d`;
  if (sec % 3600 === 0) return `${sec / 3600}h`;
  if (sec % 60 === 0) return `${sec / 60}m`;
  return `${sec}s`;
}

export function parseWholeNumber(text: string | undefined, flag: string, { min = 0 } = {}): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`${flag} must be a whole number${min ? ` ≥ ${min}` : ""}, got "${text}".`);
  return n;
}

/** --limit: a whole number from 1 to `max` (the API's own bound), `fallback` when not given. */
export function parseLimit(text: string | undefined, fallback: number, max = 500): number {
  const limit = parseWholeNumber(text, "--limit", { min: 1 }) ?? fallback;
  if (limit > max) throw new UsageError(`--limit must be at most ${max}, got ${limit}.`);
  return limit;
}

export function parseNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got "${text}".`);
  return n;
}

export function requireId(id: string | undefined, command: string): string {
  if (!id) throw new UsageError(`mnemo ${command} needs a contract ID. See mnemo ${command} --help.`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
    throw new UsageError(`"${id}" is not a contract ID (a UUID).`);
  return id;
}

export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function err(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain text table: columns padded to their widest cell, numbers right-aligned. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c))));
  const numeric = headers.map(
    (_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || r[i] === null || r[i] === undefined),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].join("\n") + "\n";
}

export function usd(n: number | null | undefined): string {
  if (n === null || n === undefined) return "-";
  return `$${n.toFixed(6).replace(/(\.\d\d\d*?)0+$/, "$1")}`;
}

/**
 * Progress while waiting, on stderr: one rewritten line on a terminal, plain lines otherwise
 * (only when the message changes, so a log stays short).
 */
export class Progress {
  private last = "";
  private readonly tty = Boolean(process.stderr.isTTY);
  update(message: string): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${message}`);
    } else if (message.replace(/\d+s\b/g, "") !== this.last.replace(/\d+s\b/g, "")) {
      process.stderr.write(`${message}\n`);
    }
    this.last = message;
  }
  done(message?: string): void {
    if (this.tty && this.last) process.stderr.write("\r\x1b[2K");
    if (message) process.stderr.write(`${message}\n`);
    this.last = "";
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
