import { z } from "@hono/zod-openapi";
import { invalid } from "../lib/errors";

/** `from`/`to` query parameters shared by the invoice and the analytics series. */
export const WindowQuery = z.object({
  from: z
    .string()
    .max(40)
    .optional()
    .openapi({ description: "Start of the window, inclusive (ISO-8601 date or date-time, UTC)", example: "2026-11-01T00:00:00Z" }),
  to: z
    .string()
    .max(40)
    .optional()
    .openapi({ description: "End of the window, exclusive (ISO-8601; default: now)", example: "2026-12-01T00:00:00Z" }),
});

function instant(field: "from" | "to", text: string | undefined): number | null {
  if (text === undefined || text === "") return null;
  // Date-only and date-time ISO forms; anything else (e.g. "yesterday", epoch numbers) is refused.
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text))
    throw invalid(field, "must be an ISO-8601 date or date-time");
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw invalid(field, "must be an ISO-8601 date or date-time");
  return ms;
}

/** The window in epoch ms; `defaultFrom(to)` when `from` is absent. */
export function parseWindow(q: { from?: string; to?: string }, defaultFrom: (to: number) => number): { from: number; to: number } {
  const to = instant("to", q.to) ?? Date.now();
  const from = instant("from", q.from) ?? defaultFrom(to);
  if (from >= to) throw invalid("from", "must be before to");
  return { from, to };
}

/** The first instant of the UTC month containing `ms`. */
export const monthStart = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
