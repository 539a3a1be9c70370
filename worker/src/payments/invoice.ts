/**
 * A renter's invoice for a period: one line per contract whose billing ended in [from, to)
 * (running contracts appear on the invoice of the period they end in; cancelled contracts cost
 * nothing and are left out), with the billed seconds, compute and egress split, what was charged
 * and what is still outstanding, and the period's payments. All sums are integer micro-USD.
 */
import type { Env } from "../env";
import { billableSeconds, costMicro, egressCostMicro, microToUsd, nanoToPrice } from "../domain/money";
import { iso } from "../lib/time";
import { type InvoiceContractRow, invoiceRows } from "../db/invoices";

type Row = InvoiceContractRow;
/** The same arithmetic as the settlement (contracts/lifecycle.ts finalCostMicro), split into its parts. */
function lineOf(r: Row) {
  let seconds = 0;
  if (r.start_time !== null && r.end_time !== null) {
    const paidUntil = Math.max(r.end_time, r.grace_until ?? 0);
    seconds = billableSeconds(
      r.start_time,
      Math.min(r.ended_at, paidUntil),
      r.min_duration_sec,
      Math.ceil((paidUntil - r.start_time) / 1000),
    );
  }
  const egress = r.actual_egress_gb ? egressCostMicro(r.actual_egress_gb, r.egress_price_micro) : 0;
  // total_cost is authoritative (it is what settlement charged from); compute is the rest.
  const compute = r.total_cost_micro - egress;
  const charged = r.charged_micro ?? 0;
  return {
    micro: {
      compute,
      egress,
      total: r.total_cost_micro,
      charged,
      outstanding: r.charged_micro === null ? 0 : Math.max(0, r.total_cost_micro - charged),
    },
    view: {
      contract_id: r.id,
      node_id: r.node_id,
      node_name: r.node_name,
      region: r.region,
      ram_gb: r.ram_gb,
      vram_gb: r.vram_gb,
      start_time: iso(r.start_time),
      ended_at: iso(r.ended_at)!,
      status: r.status,
      billed_seconds: seconds,
      gb_seconds: (r.ram_gb + r.vram_gb) * seconds,
      price_per_gb_sec: nanoToPrice(r.price_nano),
      egress_gb: r.actual_egress_gb ?? 0,
      egress_price_per_gb: microToUsd(r.egress_price_micro),
      compute_usd: microToUsd(compute),
      egress_usd: microToUsd(egress),
      total_usd: microToUsd(r.total_cost_micro),
      charged_usd: r.charged_micro === null ? null : microToUsd(charged),
      outstanding_usd: r.charged_micro === null ? 0 : microToUsd(Math.max(0, r.total_cost_micro - charged)),
      settled: r.charged_micro !== null,
      settlement_hash: r.settlement_hash,
    },
  };
}

export async function buildInvoice(
  env: Env,
  client: { id: string; user_id: string; org_name: string | null; email: string; full_name: string | null },
  from: number,
  to: number,
) {
  const { contracts: rows, payments } = await invoiceRows(env.DB, client, from, to);
  const lines = rows.map(lineOf);
  const sum = (f: (l: (typeof lines)[number]) => number) => lines.reduce((s, l) => s + f(l), 0);
  return {
    number: `MNEMO-${client.id.slice(0, 8).toUpperCase()}-${new Date(from).toISOString().slice(0, 10).replaceAll("-", "")}-${new Date(to).toISOString().slice(0, 10).replaceAll("-", "")}`,
    client_id: client.id,
    bill_to: { email: client.email, name: client.full_name, organization: client.org_name },
    currency: "USD",
    period: { from: iso(from)!, to: iso(to)! },
    issued_at: iso(Date.now())!,
    lines: lines.map((l) => l.view),
    totals: {
      contracts: lines.length,
      gb_seconds: sum((l) => l.view.gb_seconds),
      compute_usd: microToUsd(sum((l) => l.micro.compute)),
      egress_usd: microToUsd(sum((l) => l.micro.egress)),
      total_usd: microToUsd(sum((l) => l.micro.total)),
      charged_usd: microToUsd(sum((l) => l.micro.charged)),
      outstanding_usd: microToUsd(sum((l) => l.micro.outstanding)),
      payments_usd: microToUsd(payments.micro),
      payments_count: payments.n,
    },
  };
}

export type Invoice = Awaited<ReturnType<typeof buildInvoice>>;

const esc = (s: unknown) =>
  String(s ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);
/** Amounts printed with all six decimals: the invoice shows exactly what the ledger holds. */
const usd = (n: number | null) => (n === null ? "—" : `$${n.toFixed(6)}`);

/** A printable, self-contained page (no scripts, no outside assets). */
export function invoiceHtml(inv: Invoice): string {
  const rows = inv.lines
    .map(
      (
        l,
      ) => `<tr><td><code>${esc(l.contract_id.slice(0, 8))}</code></td><td>${esc(l.node_name ?? l.node_id)}<br><small>${esc(l.region)}</small></td>
<td>${l.ram_gb} + ${l.vram_gb}</td><td>${esc(l.start_time?.replace("T", " ").slice(0, 19) ?? "—")}<br>${esc(l.ended_at.replace("T", " ").slice(0, 19))}</td>
<td class="n">${l.billed_seconds}</td><td class="n">${l.price_per_gb_sec.toFixed(9)}</td><td class="n">${usd(l.compute_usd)}</td><td class="n">${usd(l.egress_usd)}</td>
<td class="n">${usd(l.total_usd)}</td><td class="n">${usd(l.charged_usd)}</td><td class="n">${usd(l.outstanding_usd)}</td></tr>`,
    )
    .join("\n");
  const t = inv.totals;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice ${esc(inv.number)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#111}h1{font-size:1.4rem;margin:0}table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tfoot td{font-weight:600;border-top:2px solid #111}.meta{display:flex;justify-content:space-between;margin-top:1rem}small{color:#666}
@media print{body{margin:0}}
</style></head><body>
<h1>Mnemo — invoice ${esc(inv.number)}</h1>
<div class="meta"><div><strong>Bill to</strong><br>${esc(inv.bill_to.organization ?? inv.bill_to.name ?? "")}<br>${esc(inv.bill_to.email)}<br><small>client ${esc(inv.client_id)}</small></div>
<div><strong>Period</strong><br>${esc(inv.period.from)}<br>to ${esc(inv.period.to)}<br><small>issued ${esc(inv.issued_at)}</small></div></div>
<table><thead><tr><th>Contract</th><th>Node</th><th>GB (RAM + VRAM)</th><th>Start / end (UTC)</th><th class="n">Billed s</th><th class="n">USD/GB-s</th>
<th class="n">Compute</th><th class="n">Egress</th><th class="n">Total</th><th class="n">Charged</th><th class="n">Outstanding</th></tr></thead>
<tbody>
${rows || `<tr><td colspan="11">No contracts ended in this period.</td></tr>`}
</tbody>
<tfoot><tr><td colspan="6">${t.contracts} contract(s), ${t.gb_seconds} GB-s</td><td class="n">${usd(t.compute_usd)}</td><td class="n">${usd(t.egress_usd)}</td>
<td class="n">${usd(t.total_usd)}</td><td class="n">${usd(t.charged_usd)}</td><td class="n">${usd(t.outstanding_usd)}</td></tr></tfoot></table>
<p>Payments received in the period: ${usd(t.payments_usd)} (${t.payments_count}). Time is billed per started second, at least each offer's minimum duration; each contract's cost is rounded up to the micro-dollar.</p>
</body></html>`;
}
