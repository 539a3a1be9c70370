/**
 * Two audiences: a person watching a terminal (one short line per event) and a log collector
 * (`--json`: one JSON object per line, every field machine-readable).
 */

export type Level = "info" | "warn" | "error";

export interface Logger {
  readonly json: boolean;
  /** `event` names the kind of line for machines; `msg` is the sentence for people. */
  log(level: Level, event: string, msg: string, fields?: Record<string, unknown>): void;
  info(event: string, msg: string, fields?: Record<string, unknown>): void;
  warn(event: string, msg: string, fields?: Record<string, unknown>): void;
  error(event: string, msg: string, fields?: Record<string, unknown>): void;
}

export function clock(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function createLogger(
  json: boolean,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Logger {
  const log = (level: Level, event: string, msg: string, fields: Record<string, unknown> = {}) => {
    if (json) {
      out.write(`${JSON.stringify({ time: new Date().toISOString(), level, event, msg, ...fields })}\n`);
      return;
    }
    const line = `${clock()} ${level === "info" ? "" : `${level}: `}${msg}\n`;
    (level === "info" ? out : err).write(line);
  };
  return {
    json,
    log,
    info: (e, m, f) => log("info", e, m, f),
    warn: (e, m, f) => log("warn", e, m, f),
    error: (e, m, f) => log("error", e, m, f),
  };
}

export function formatUsd(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "$—";
  const n = Number(value);
  if (!Number.isFinite(n)) return `$${value}`;
  // Small balances are the normal case for a new node; show enough digits to see them move.
  return n !== 0 && Math.abs(n) < 0.01 ? `$${n.toFixed(6)}` : `$${n.toFixed(2)}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A per-GB-second price as people write it (0.0000008, never 8e-7). */
export function formatPrice(value: number | string): string {
  const n = Number(value);
  if (!Number.isFinite(n)) return `$${value}`;
  return `$${n.toFixed(9).replace(/0+$/, "").replace(/\.$/, "")}`;
}
