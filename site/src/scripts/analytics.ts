import { api, errorMessage, getMe, type Cluster } from "../lib/api";
import { drawChart, PALETTE, shortTime } from "../lib/charts";
import { byId, el } from "../lib/dom";
import { fmtGB, fmtInt, fmtPct, fmtPricePerHour, fmtPricePerSec, fmtRelative, fmtUSD, shortId } from "../lib/format";
import { getUser } from "../lib/session";

interface Gb {
  ram_gb: number;
  vram_gb: number;
}
interface SupplyRegion {
  region: string;
  nodes: number;
  offered: Gb & { reported_free_ram_gb: number; reported_free_vram_gb: number };
  reserved: Gb & { contracts: number };
  requested: Gb & { contracts: number };
  utilisation_pct: number;
}
const plural = (n: number | undefined, word: string) => `${fmtInt(n ?? 0)} ${word}${n === 1 ? "" : "s"}`;
const total = (g: Gb | undefined) => (g ? (g.ram_gb ?? 0) + (g.vram_gb ?? 0) : 0);

async function loadSupply() {
  const note = byId("supply-note");
  try {
    const res = await api<{ from: string; to: string; regions: SupplyRegion[] }>("/api/analytics/market/supply");
    const rows = Array.isArray(res.regions) ? res.regions : [];
    if (!rows.length) {
      note.textContent = "No regions have capacity yet.";
      return;
    }
    drawChart(
      byId<HTMLCanvasElement>("supply-chart"),
      {
        type: "bar",
        data: {
          labels: rows.map((r) => r.region),
          datasets: [
            { label: "Offered (GB)", data: rows.map((r) => total(r.offered)), backgroundColor: PALETTE[0] },
            { label: "Reserved now (GB)", data: rows.map((r) => total(r.reserved)), backgroundColor: PALETTE[1] },
            { label: "Requested (GB)", data: rows.map((r) => total(r.requested)), backgroundColor: PALETTE[2] },
          ],
        },
        options: {
          plugins: { legend: { position: "bottom" } },
          scales: { y: { beginAtZero: true, title: { display: true, text: "GB of RAM + VRAM" } } },
        },
      },
      `Supply and demand by region: ${rows.map((r) => `${r.region} ${total(r.offered)} GB offered, ${total(r.reserved)} GB reserved, ${total(r.requested)} GB requested`).join("; ")}`,
    );
    byId("supply-wrap").hidden = false;
    byId("supply-body").replaceChildren(
      ...rows.map((r) =>
        el(
          "tr",
          {},
          el("td", { class: "cell-title" }, r.region),
          el("td", { class: "num" }, fmtInt(r.nodes)),
          el("td", { class: "num" }, `${fmtGB(r.offered?.ram_gb)} / ${fmtGB(r.offered?.vram_gb)}`),
          el(
            "td",
            { class: "num" },
            el("div", {}, fmtGB(total(r.reserved))),
            el("div", { class: "cell-sub" }, plural(r.reserved?.contracts, "contract")),
          ),
          el(
            "td",
            { class: "num" },
            el("div", {}, fmtGB(total(r.requested))),
            el("div", { class: "cell-sub" }, plural(r.requested?.contracts, "contract")),
          ),
          el("td", { class: "num" }, fmtPct(r.utilisation_pct, 1)),
        ),
      ),
    );
    note.textContent = `Offered: memory of nodes not offline. Reserved: held now by pending and active contracts. Requested: contracts created since ${fmtRelative(res.from)}.`;
  } catch (e) {
    note.textContent = `Supply and demand are unavailable: ${errorMessage(e)}`;
  }
}

async function loadRegions() {
  try {
    const { clusters } = await api<{ clusters: Cluster[] }>("/api/clusters");
    const sel = byId<HTMLSelectElement>("price-region");
    for (const c of clusters) sel.append(el("option", { value: c.region }, c.region));
  } catch {
    /* "All regions" still works */
  }
}

interface PricePoint {
  t: string;
  avg_price_per_gb_sec: number | null;
  min_price_per_gb_sec: number | null;
  max_price_per_gb_sec: number | null;
  contracts: number;
  gb: number;
}

function priceTile(label: string, value: string, sub = ""): HTMLElement {
  return el(
    "div",
    { class: "stat" },
    el("div", { class: "stat-label" }, label),
    el("div", { class: "stat-value" }, value),
    sub ? el("div", { class: "stat-sub" }, sub) : null,
  );
}

async function loadPricing() {
  const note = byId("price-note");
  note.textContent = "Loading…";
  const region = byId<HTMLSelectElement>("price-region").value;
  const bucket = byId<HTMLSelectElement>("price-bucket").value;
  try {
    const res = await api<{
      series: PricePoint[];
      current: {
        active_nodes: number;
        avg_price_per_gb_sec: number | null;
        min_price_per_gb_sec: number | null;
        max_price_per_gb_sec: number | null;
      };
    }>("/api/analytics/market/pricing", { query: { region, bucket } });
    const cur = res.current;
    byId("price-now").replaceChildren(
      priceTile("Offered now (avg)", fmtPricePerSec(cur?.avg_price_per_gb_sec), fmtPricePerHour(cur?.avg_price_per_gb_sec)),
      priceTile("Lowest offer", fmtPricePerSec(cur?.min_price_per_gb_sec), fmtPricePerHour(cur?.min_price_per_gb_sec)),
      priceTile("Highest offer", fmtPricePerSec(cur?.max_price_per_gb_sec), fmtPricePerHour(cur?.max_price_per_gb_sec)),
      priceTile("Active nodes", fmtInt(cur?.active_nodes)),
    );
    const series = Array.isArray(res.series) ? res.series : [];
    const traded = series.filter((p) => p.avg_price_per_gb_sec != null);
    const line = (label: string, key: keyof PricePoint, color: string, extra: Record<string, unknown> = {}) => ({
      label,
      data: series.map((p) => p[key] as number | null),
      borderColor: color,
      backgroundColor: color,
      spanGaps: true,
      tension: 0.25,
      pointRadius: traded.length < 3 ? 4 : series.length > 60 ? 0 : 2,
      ...extra,
    });
    drawChart(
      byId<HTMLCanvasElement>("price-chart"),
      {
        type: "line",
        data: {
          labels: series.map((p) => shortTime(p.t)),
          datasets: [
            line("Max", "max_price_per_gb_sec", "rgba(63,79,216,.35)", { borderDash: [4, 4] }),
            line("Average", "avg_price_per_gb_sec", PALETTE[0]),
            line("Min", "min_price_per_gb_sec", "rgba(14,147,132,.6)", { borderDash: [4, 4] }),
          ],
        },
        options: {
          plugins: {
            legend: { position: "bottom" },
            tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtPricePerSec(Number(c.raw))}` } },
          },
          scales: { y: { ticks: { callback: (v) => fmtPricePerSec(Number(v)) } } },
        },
      },
      `Contracted price per ${bucket}${region ? ` in ${region}` : ""}: ${traded.length} ${bucket}s with contracts`,
    );
    // An empty axis from $0 to $1 says nothing; the note explains the gap instead.
    byId("price-box").hidden = traded.length === 0;
    note.textContent = traded.length
      ? "GB-weighted average price of the contracts made in each period, with the lowest and highest."
      : `No contracts were made in this window${region ? ` in ${region}` : ""}, so there is no traded price yet; the tiles show what is offered now.`;
  } catch (e) {
    note.textContent = `Price trends are unavailable: ${errorMessage(e)}`;
  }
}

async function loadSpending() {
  const note = byId("spend-note");
  if (getUser()?.role === "provider") {
    byId("spend-card").hidden = true;
    return;
  }
  try {
    const { client } = await getMe();
    if (!client) throw new Error("This account has no renter profile.");
    const res = await api<{
      series: { t: string; usd: number }[];
      total_usd: number;
      by_node: { node_id: string; node_name: string | null; region: string | null; usd: number; contracts: number }[];
    }>(`/api/analytics/client/${encodeURIComponent(client.id)}/spending`);
    const series = Array.isArray(res.series) ? res.series : [];
    byId("spend-total").textContent = fmtUSD(res.total_usd);
    drawChart(
      byId<HTMLCanvasElement>("spend-chart"),
      {
        // Bars: each value is the sum charged in its own period, not a running level.
        type: "bar",
        data: {
          labels: series.map((p) => shortTime(p.t)),
          datasets: [{ label: "Spent (USD)", data: series.map((p) => p.usd), backgroundColor: PALETTE[0], borderRadius: 3 }],
        },
        options: {
          plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => fmtUSD(Number(c.raw)) } } },
          scales: { y: { beginAtZero: true, ticks: { callback: (v) => fmtUSD(Number(v)) } } },
        },
      },
      `Spending over time: ${fmtUSD(res.total_usd)} in total`,
    );
    byId("spend-box").hidden = !(res.total_usd > 0);
    note.textContent =
      series.length && res.total_usd > 0
        ? "What was charged per period (settled contracts), not what is held."
        : "No spending yet. Costs appear here once a contract settles.";
    const byNode = Array.isArray(res.by_node) ? res.by_node : [];
    if (byNode.length) {
      byId("by-node-wrap").hidden = false;
      byId("by-node").replaceChildren(
        ...byNode.map((r) =>
          el(
            "tr",
            {},
            el("td", { class: "cell-title" }, r.node_name ?? shortId(r.node_id)),
            el("td", {}, r.region ?? "—"),
            el("td", { class: "num" }, fmtInt(r.contracts)),
            el("td", { class: "num" }, fmtUSD(r.usd)),
          ),
        ),
      );
    }
  } catch (e) {
    note.textContent = `Spending is unavailable: ${errorMessage(e)}`;
  }
}

byId("price-form").addEventListener("change", loadPricing);
loadSupply();
loadRegions();
loadPricing();
loadSpending();
