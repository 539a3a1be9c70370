import { api, errorMessage, type Cluster, type MnemoNode } from "../lib/api";
import { badge, byId, el, loadingRow, messageRow, showStatus } from "../lib/dom";
import { fmtGB, fmtInt, fmtPct, fmtPricePerHour, fmtPricePerSec, fmtRelative } from "../lib/format";

const SVG = "http://www.w3.org/2000/svg";
const project = (lng: number, lat: number): [number, number] => [((lng + 180) / 360) * 960, ((90 - lat) / 180) * 480];
const cardId = (region: string) => `cluster-${region.replace(/[^A-Za-z0-9_-]/g, "-")}`;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function drawMarkers(clusters: Cluster[]) {
  const g = byId("markers") as unknown as SVGGElement;
  g.replaceChildren();
  const placed = clusters.filter((c) => c.center && Number.isFinite(c.center.lat) && Number.isFinite(c.center.lng));
  const maxGb = Math.max(1, ...placed.map((c) => c.total_ram_gb + c.total_vram_gb));
  // Area, not radius, is proportional to capacity, so big regions do not look quadratically bigger.
  for (const c of [...placed].sort((a, b) => b.total_ram_gb + b.total_vram_gb - (a.total_ram_gb + a.total_vram_gb))) {
    const [x, y] = project(c.center!.lng, c.center!.lat);
    const total = c.total_ram_gb + c.total_vram_gb;
    const freeGb = c.available_ram_gb + c.available_vram_gb;
    const r = 6 + 22 * Math.sqrt(total / maxGb);
    const rFree = r * Math.sqrt(Math.max(0, Math.min(1, total ? freeGb / total : 0)));
    const a = svg("a", {
      href: `#${cardId(c.region)}`,
      class: "marker",
      "aria-label": `${c.region}: ${c.total_nodes} nodes, ${fmtGB(total)} offered, ${fmtGB(freeGb)} free`,
    });
    const title = svg("title", {});
    title.textContent = `${c.region}: ${c.total_nodes} nodes, ${fmtGB(total)} offered, ${fmtGB(freeGb)} free`;
    a.append(title, svg("circle", { cx: x, cy: y, r, class: "total" }), svg("circle", { cx: x, cy: y, r: rFree, class: "free" }));
    const label = svg("text", { x: x + r + 4, y: y + 4 });
    label.textContent = c.region;
    a.append(label);
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      selectRegion(c.region);
    });
    g.append(a);
  }
  const missing = clusters.length - placed.length;
  byId("map-note").textContent = missing ? `${missing} region${missing === 1 ? "" : "s"} without coordinates not shown on the map.` : "";
}

// The bar shows what is free, in the map's "free" colour, so both read the same way.
function meter(label: string, free: number, total: number): HTMLElement {
  const bar = el("span");
  bar.style.width = total ? `${Math.min(100, (free / total) * 100)}%` : "0";
  return el(
    "div",
    { class: "meter-block" },
    el("div", { class: "meter-label" }, el("span", {}, label), el("span", {}, total ? `${fmtGB(free)} free of ${fmtGB(total)}` : "none")),
    el("div", { class: "meter", "aria-hidden": "true" }, bar),
  );
}

function card(c: Cluster): HTMLElement {
  const show = el("button", { class: "btn btn-ghost btn-sm", type: "button" }, "Show nodes");
  show.setAttribute("aria-label", `Show nodes in ${c.region}`);
  show.addEventListener("click", () => selectRegion(c.region));
  const comp = c.node_composition ?? { datacenter: 0, edge_cluster: 0, mist_node: 0 };
  return el(
    "article",
    { class: "card cluster-card", id: cardId(c.region), "data-region": c.region },
    el(
      "h3",
      {},
      el("span", {}, c.region),
      el("span", { class: "small muted" }, `${fmtInt(c.total_nodes)} node${c.total_nodes === 1 ? "" : "s"}`),
    ),
    el(
      "div",
      { class: "composition" },
      ...(["datacenter", "edge_cluster", "mist_node"] as const)
        .filter((k) => comp[k])
        .map((k) => el("span", { class: `badge badge-${k} badge-plain` }, `${comp[k]} ${k.replace(/_/g, " ")}${comp[k] === 1 ? "" : "s"}`)),
    ),
    meter("RAM", c.available_ram_gb, c.total_ram_gb),
    meter("VRAM", c.available_vram_gb, c.total_vram_gb),
    el(
      "div",
      { class: "row" },
      el(
        "div",
        {},
        el("div", { class: "small muted" }, "Average price"),
        el("div", { class: "cell-title" }, fmtPricePerSec(c.avg_price_per_gb_sec)),
        el("div", { class: "cell-sub" }, fmtPricePerHour(c.avg_price_per_gb_sec)),
      ),
      el("span", { class: "spacer" }),
      show,
    ),
  );
}

interface RegionStats {
  utilization: { ram_pct: number; vram_pct: number; held_ram_gb: number; held_vram_gb: number };
  contracts: Record<string, number>;
  price_spread: { min: number; p50: number; max: number; avg: number } | null;
  heartbeat_health: { nodes_by_status: Record<string, number>; last_heartbeat_at: string | null; late_nodes: number };
}

function statsBlock(s: RegionStats): HTMLElement {
  const tile = (label: string, value: string, sub = "") =>
    el(
      "div",
      { class: "stat" },
      el("div", { class: "stat-label" }, label),
      el("div", { class: "stat-value" }, value),
      sub ? el("div", { class: "stat-sub" }, sub) : null,
    );
  const u = s.utilization;
  const c = s.contracts ?? {};
  const h = s.heartbeat_health;
  const p = s.price_spread;
  return el(
    "div",
    { class: "grid grid-3 region-stats" },
    tile("RAM in use", fmtPct(u?.ram_pct, 1), `${fmtGB(u?.held_ram_gb)} held`),
    tile("VRAM in use", fmtPct(u?.vram_pct, 1), `${fmtGB(u?.held_vram_gb)} held`),
    tile(
      "Contracts running",
      fmtInt((c.active ?? 0) + (c.pending ?? 0)),
      `${fmtInt(c.completed ?? 0)} completed · ${fmtInt(c.failed ?? 0)} failed`,
    ),
    tile(
      "Median price",
      p ? fmtPricePerSec(p.p50) : "—",
      !p ? "no active offers" : p.min === p.max ? "every offer at this price" : `from ${fmtPricePerSec(p.min)} to ${fmtPricePerSec(p.max)}`,
    ),
    tile(
      "Heartbeats",
      h?.late_nodes ? `${fmtInt(h.late_nodes)} late` : "healthy",
      h?.last_heartbeat_at ? `last ${fmtRelative(h.last_heartbeat_at)}` : "none received yet",
    ),
    tile(
      "Nodes",
      fmtInt(h?.nodes_by_status?.active ?? 0),
      `active · ${fmtInt(h?.nodes_by_status?.maintenance ?? 0)} maintenance · ${fmtInt(h?.nodes_by_status?.offline ?? 0)} offline`,
    ),
  );
}

async function selectRegion(region: string) {
  const panel = byId("region-detail");
  document.querySelectorAll(".cluster-card.selected").forEach((c) => {
    c.classList.remove("selected");
  });
  document.getElementById(cardId(region))?.classList.add("selected");
  panel.hidden = false;
  byId("region-title").textContent = region;
  const stats = byId("region-stats");
  const body = byId("region-nodes");
  stats.replaceChildren(el("p", { class: "notice notice-loading", role: "status" }, "Loading statistics…"));
  body.replaceChildren(loadingRow(6, "Loading nodes…"));
  panel.scrollIntoView({ behavior: "smooth", block: "start" });
  panel.focus({ preventScroll: true });
  const enc = encodeURIComponent(region);
  const [nodesRes, statsRes] = await Promise.allSettled([
    api<{ nodes: MnemoNode[]; total_count: number }>(`/api/clusters/${enc}/nodes`),
    api<RegionStats>(`/api/clusters/${enc}/stats`),
  ]);
  if (statsRes.status === "fulfilled") stats.replaceChildren(statsBlock(statsRes.value));
  else
    stats.replaceChildren(
      el("p", { class: "notice notice-error", role: "alert" }, `Statistics unavailable: ${errorMessage(statsRes.reason)}`),
    );
  if (nodesRes.status === "fulfilled") {
    const nodes = nodesRes.value.nodes;
    body.replaceChildren(
      ...(nodes.length
        ? nodes.map((n) =>
            el(
              "tr",
              {},
              el("td", {}, el("div", { class: "cell-title" }, n.name), el("div", { class: "cell-sub" }, n.node_type.replace(/_/g, " "))),
              el("td", {}, badge(n.status)),
              el("td", { class: "num" }, `${fmtGB((n.available_ram_gb as number | undefined) ?? null)} / ${fmtGB(n.total_ram_gb)}`),
              el("td", { class: "num" }, `${fmtGB((n.available_vram_gb as number | undefined) ?? null)} / ${fmtGB(n.total_vram_gb)}`),
              el("td", { class: "num" }, fmtPricePerSec(n.price_per_gb_sec)),
              el("td", {}, n.last_heartbeat_at ? fmtRelative(n.last_heartbeat_at) : "never"),
            ),
          )
        : [messageRow(6, "No nodes in this region.")]),
    );
  } else body.replaceChildren(messageRow(6, `Nodes could not be loaded: ${errorMessage(nodesRes.reason)}`, "error"));
}

byId("region-close").addEventListener("click", () => {
  byId("region-detail").hidden = true;
  document.querySelectorAll(".cluster-card.selected").forEach((c) => {
    c.classList.remove("selected");
  });
});

async function load() {
  const cards = byId("cards");
  try {
    const { clusters } = await api<{ clusters: Cluster[] }>("/api/clusters");
    clusters.sort((a, b) => a.region.localeCompare(b.region));
    drawMarkers(clusters);
    cards.replaceChildren(...(clusters.length ? clusters.map(card) : [el("div", { class: "empty" }, "No regions have nodes online yet.")]));
    byId("updated").textContent = `Updated ${new Date().toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" })}`;
    byId("clusters-status").hidden = true;
  } catch (e) {
    if (!cards.querySelector(".cluster-card")) cards.replaceChildren(el("div", { class: "empty" }, "Regions could not be loaded."));
    showStatus(byId("clusters-status"), errorMessage(e), "error");
  }
}
load();
setInterval(load, 30_000);
