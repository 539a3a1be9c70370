// Number formatting in one place, so every page says the same amount the same way.

const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function fmtInt(n: number | null | undefined): string {
  return n == null || !Number.isFinite(n) ? "—" : intFmt.format(n);
}

export function fmtGB(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "—";
  if (Math.abs(n) >= 10_000) return `${(n / 1024).toLocaleString("en-US", { maximumFractionDigits: 1 })} TB`;
  return `${n.toLocaleString("en-US", { maximumFractionDigits: 1 })} GB`;
}

/** USD amounts: cents for anything over a dollar, more digits for the tiny sums GB-seconds produce. */
export function fmtUSD(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "—";
  const a = Math.abs(n);
  let digits = 2;
  if (a > 0 && a < 0.01) digits = 6;
  else if (a > 0 && a < 1) digits = 4;
  const s = a.toLocaleString("en-US", { minimumFractionDigits: Math.min(digits, 2), maximumFractionDigits: digits });
  return `${n < 0 ? "−" : ""}$${s}`;
}

/** Trims a decimal to at most `max` places without scientific notation. */
function plain(n: number, max: number): string {
  const s = n.toFixed(max);
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** A price per GB-second has up to 9 decimals: "$0.0000008/GB·s". */
export function fmtPricePerSec(p: number | null | undefined): string {
  if (p == null || !Number.isFinite(p)) return "—";
  return `$${plain(p, 9)}/GB·s`;
}

/** The same price per GB-hour, which is the unit people can compare with cloud price lists. */
export function fmtPricePerHour(p: number | null | undefined): string {
  if (p == null || !Number.isFinite(p)) return "—";
  const h = p * 3600;
  const digits = h >= 1 ? 2 : h >= 0.01 ? 4 : 6;
  return `$${plain(h, digits)}/GB·h`;
}

export function fmtPct(n: number | null | undefined, digits = 0): string {
  if (n == null || !Number.isFinite(n)) return "—";
  return `${n.toFixed(digits)}%`;
}

export function fmtKm(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "—";
  return n < 10 ? `${n.toFixed(1)} km` : `${intFmt.format(n)} km`;
}

export function fmtMs(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "—";
  return `${intFmt.format(n)} ms`;
}

export function fmtDuration(sec: number | null | undefined): string {
  if (sec == null || !Number.isFinite(sec)) return "—";
  sec = Math.round(sec);
  if (sec < 60) return `${sec} s`;
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  const parts: string[] = [];
  if (d) parts.push(`${d} d`);
  if (h) parts.push(`${h} h`);
  if (m && !d) parts.push(`${m} min`);
  if (s && !d && !h) parts.push(`${s} s`);
  return parts.join(" ");
}

const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

export function toDate(t: string | number | null | undefined): Date | null {
  if (t == null || t === "") return null;
  const d = typeof t === "number" ? new Date(t < 1e12 ? t * 1000 : t) : new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function fmtRelative(t: string | number | null | undefined, now = Date.now()): string {
  const d = toDate(t);
  if (!d) return "—";
  const diff = (d.getTime() - now) / 1000;
  const a = Math.abs(diff);
  if (a < 45) return rtf.format(Math.round(diff), "second");
  if (a < 2700) return rtf.format(Math.round(diff / 60), "minute");
  if (a < 79200) return rtf.format(Math.round(diff / 3600), "hour");
  if (a < 2592000) return rtf.format(Math.round(diff / 86400), "day");
  return rtf.format(Math.round(diff / 2592000), "month");
}

export function fmtDateTime(t: string | number | null | undefined): string {
  const d = toDate(t);
  return d ? d.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" }) : "—";
}

export function shortId(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : "—";
}

export const NODE_TYPE_LABEL: Record<string, string> = {
  datacenter: "Datacenter",
  edge_cluster: "Edge cluster",
  mist_node: "Mist node",
};
