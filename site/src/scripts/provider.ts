import { api, errorMessage, getMe, type ApiKeyInfo, type MnemoNode } from "../lib/api";
import { drawChart, PALETTE, shortTime } from "../lib/charts";
import {
  badge,
  byId,
  clearFieldErrors,
  detailDialog,
  el,
  loadingRow,
  messageRow,
  openDialog,
  priceCell,
  rowButton,
  setBusy,
  setFieldError,
  showFormError,
  showStatus,
} from "../lib/dom";
import { fmtGB, fmtPricePerHour, fmtPricePerSec, fmtRelative, fmtUSD } from "../lib/format";
import { getUser } from "../lib/session";

const user = getUser();
if (user && user.role === "user") {
  showStatus(
    byId("role-note"),
    "This is a renter account. To offer memory, create a provider account; renting stays on the Marketplace and Contracts pages.",
    "info",
  );
}

byId("agent-init").textContent = `mnemo-agent init --api-url ${location.origin} --api-key YOUR_API_KEY --region eu-west`;

const free = (n: MnemoNode, kind: "ram" | "vram") => {
  const v = n[`available_${kind}_gb`] ?? n[`reported_${kind}_gb`];
  return typeof v === "number" ? v : null;
};

// Held by contracts, straight from the node when the API says it (a paused node offers 0 but
// still holds its running contracts), else what is no longer offered.
const held = (n: MnemoNode, kind: "ram" | "vram") => {
  const h = n[`held_${kind}_gb`];
  if (typeof h === "number") return h;
  const total = kind === "ram" ? n.total_ram_gb : n.total_vram_gb;
  return Math.max(0, total - (free(n, kind) ?? total));
};

function capCell(total: number, used: number): HTMLElement {
  if (!total) return el("td", { class: "muted" }, "none");
  const bar = el("span");
  bar.style.width = `${Math.min(100, (used / total) * 100)}%`;
  return el(
    "td",
    { class: "cap" },
    el("div", { class: "meter-label" }, el("span", {}, `${fmtGB(used)} / ${fmtGB(total)} rented`)),
    el(
      "div",
      {
        class: "meter meter-used",
        role: "progressbar",
        "aria-valuemin": 0,
        "aria-valuemax": total,
        "aria-valuenow": used,
        "aria-label": `${fmtGB(used)} of ${fmtGB(total)} in use`,
      },
      bar,
    ),
  );
}

function nodeRow(n: MnemoNode): HTMLTableRowElement {
  const actions = el("div", { class: "actions" });
  actions.append(rowButton("Details", "secondary", `Details of ${n.name}`, () => showNode(n.id)));
  if (n.status !== "offline") {
    const toMaint = n.status === "active";
    const toggle = rowButton(toMaint ? "Pause" : "Resume", "ghost", `${toMaint ? "Pause (maintenance)" : "Resume"} ${n.name}`, async () => {
      setBusy(toggle, true);
      try {
        await api(`/api/nodes/${encodeURIComponent(n.id)}`, { method: "PUT", body: { status: toMaint ? "maintenance" : "active" } });
        showStatus(
          byId("nodes-status"),
          `${n.name} is now ${toMaint ? "in maintenance: it is not offered to new renters" : "active"}.`,
          "success",
        );
        loadNodes();
      } catch (e) {
        setBusy(toggle, false);
        showStatus(byId("nodes-status"), errorMessage(e), "error");
      }
    });
    const retire = rowButton("Retire", "danger", `Retire ${n.name}`, () =>
      openDialog({
        title: `Retire ${n.name}?`,
        message:
          "The node goes offline and is no longer matched. Its running contracts fail over to other nodes. The agent's next heartbeat brings it back.",
        confirmLabel: "Retire node",
        danger: true,
        onSubmit: async () => {
          await api(`/api/nodes/${encodeURIComponent(n.id)}`, { method: "DELETE" });
          showStatus(byId("nodes-status"), `${n.name} is offline.`, "success");
          loadNodes();
        },
      }),
    );
    actions.append(toggle, retire);
  }
  return el(
    "tr",
    {},
    el(
      "td",
      {},
      el("div", { class: "cell-title" }, n.name),
      el("div", { class: "cell-sub" }, `${n.node_type.replace(/_/g, " ")} · ${n.region}`),
    ),
    el("td", {}, badge(n.status)),
    capCell(n.total_ram_gb, held(n, "ram")),
    capCell(n.total_vram_gb, held(n, "vram")),
    priceCell(n.price_per_gb_sec),
    el("td", { class: "num" }, typeof n.uptime_score === "number" ? n.uptime_score.toFixed(1) : "—"),
    el("td", {}, n.last_heartbeat_at ? fmtRelative(n.last_heartbeat_at) : el("span", { class: "muted" }, "never")),
    el("td", {}, actions),
  );
}

let myNodes: MnemoNode[] = [];

async function loadNodes() {
  const body = byId("nodes-body");
  if (!body.children.length) body.replaceChildren(loadingRow(8, "Loading nodes…"));
  try {
    const me = await getMe();
    const res = await api<{ nodes: MnemoNode[]; total_count: number }>("/api/nodes", { query: { limit: 500 } });
    // GET /api/nodes lists the whole market; a provider's page shows only their own. Other
    // providers' nodes come in the public view, which has no provider_id.
    myNodes = res.nodes.filter((n) => n.provider_id === me.user.id || me.user.role === "admin");
    body.replaceChildren(
      ...(myNodes.length
        ? myNodes.map(nodeRow)
        : [messageRow(8, "No nodes yet. Create an API key and start mnemo-agent on a machine (steps below).")]),
    );
    let total = 0,
      rented = 0;
    for (const n of myNodes) {
      if (n.status === "offline") continue;
      total += n.total_ram_gb + n.total_vram_gb;
      rented += held(n, "ram") + held(n, "vram");
    }
    byId("e-rented").textContent = fmtGB(rented);
    byId("e-offered").textContent = `of ${fmtGB(total)} offered`;
    drawCapacity();
    loadEarningsChart();
  } catch (e) {
    body.replaceChildren(messageRow(8, "Nodes could not be loaded.", "error"));
    showStatus(byId("nodes-status"), errorMessage(e), "error");
  }
}

function drawCapacity() {
  const canvas = byId<HTMLCanvasElement>("cap-chart");
  const live = myNodes.filter((n) => n.status !== "offline");
  byId("cap-note").textContent = live.length ? "" : "Charts appear once a node is online.";
  const rented = live.map((n) => held(n, "ram") + held(n, "vram"));
  const freeGb = live.map((n, i) => n.total_ram_gb + n.total_vram_gb - rented[i]);
  drawChart(
    canvas,
    {
      type: "bar",
      data: {
        labels: live.map((n) => n.name),
        datasets: [
          { label: "Rented (GB)", data: rented, backgroundColor: PALETTE[0], stack: "c" },
          { label: "Free (GB)", data: freeGb, backgroundColor: "#b9e6de", stack: "c" },
        ],
      },
      options: {
        indexAxis: "y",
        scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } },
        plugins: { legend: { position: "bottom" } },
      },
    },
    `Capacity by node: ${live.map((n, i) => `${n.name} ${rented[i]} GB rented of ${rented[i] + freeGb[i]} GB`).join("; ") || "no nodes online"}`,
  );
}

async function loadEarningsChart() {
  const note = byId("earn-note");
  const canvas = byId<HTMLCanvasElement>("earn-chart");
  if (!myNodes.length) {
    note.textContent = "Earnings appear after your first settled contract.";
    drawChart(canvas, { type: "bar", data: { labels: [], datasets: [] } }, "No earnings yet");
    return;
  }
  const from = new Date(Date.now() - 30 * 86400_000).toISOString();
  const results = await Promise.allSettled(
    myNodes.slice(0, 20).map((n) =>
      api<{ series: { t: string; usd: number }[]; total_usd: number }>(`/api/analytics/node/${encodeURIComponent(n.id)}/earnings`, {
        query: { bucket: "day", from },
      }),
    ),
  );
  const byDay = new Map<string, number[]>();
  let total = 0;
  let failed: unknown = null;
  results.forEach((r, i) => {
    if (r.status === "rejected") {
      failed = r.reason;
      return;
    }
    total += r.value.total_usd ?? 0;
    for (const p of r.value.series ?? []) {
      const key = String(p.t).slice(0, 10);
      if (!byDay.has(key)) byDay.set(key, new Array(results.length).fill(0));
      byDay.get(key)![i] += p.usd;
    }
  });
  if (failed && results.every((r) => r.status === "rejected")) {
    note.textContent = `Earnings history unavailable: ${errorMessage(failed)}`;
    return;
  }
  const days = [...byDay.keys()].sort();
  byId("earn-total").textContent = `${fmtUSD(total)} total`;
  note.textContent = days.length ? "" : "No earnings in the last 30 days yet.";
  drawChart(
    canvas,
    {
      type: "bar",
      data: {
        labels: days.map((d) => shortTime(d)),
        datasets: myNodes.slice(0, 20).map((n, i) => ({
          label: n.name,
          data: days.map((d) => byDay.get(d)![i]),
          backgroundColor: PALETTE[i % PALETTE.length],
          stack: "e",
        })),
      },
      options: {
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => fmtUSD(Number(v)) } } },
        plugins: {
          legend: { position: "bottom", display: myNodes.length > 1 },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtUSD(Number(c.raw))}` } },
        },
      },
    },
    `Earnings over the last 30 days: ${fmtUSD(total)} in total`,
  );
}

interface Earnings {
  earned_usd: number;
  paid_out_usd: number;
  pending_usd: number;
  min_payout_usd?: number;
  stripe_account_id?: string | null;
}

function showEarnings(e: Earnings) {
  byId("e-earned").textContent = fmtUSD(e.earned_usd);
  byId("e-pending").textContent = fmtUSD(e.pending_usd);
  byId("e-paid").textContent = fmtUSD(e.paid_out_usd);
  const min = e.min_payout_usd;
  const acct = e.stripe_account_id ?? null;
  byId("payout-summary").textContent = acct ? `to ${acct}` : "no payout account yet";
  (byId<HTMLFormElement>("account-form").elements.namedItem("stripe_account_id") as HTMLInputElement).value = acct ?? "";
  byId("payout-rule").textContent =
    min == null ? `${fmtUSD(e.pending_usd)} pending.` : `${fmtUSD(e.pending_usd)} pending; payouts start at ${fmtUSD(min)}.`;
  byId<HTMLButtonElement>("payout-btn").disabled = !acct || (min != null && e.pending_usd < min);
}

async function loadEarnings() {
  try {
    showEarnings(await api<Earnings>("/api/billing/earnings"));
  } catch (e) {
    byId("payout-summary").textContent = "unavailable";
    showStatus(byId("earnings-status"), `Earnings unavailable: ${errorMessage(e)}`, "error");
  }
}

const accountForm = byId<HTMLFormElement>("account-form");
accountForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearFieldErrors(accountForm);
  const id = String(new FormData(accountForm).get("stripe_account_id") ?? "").trim();
  if (!/^acct_[A-Za-z0-9]{6,64}$/.test(id))
    return setFieldError(accountForm, "stripe_account_id", "A Stripe connected account id looks like acct_1A2b3C4d5E.");
  const button = accountForm.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  setBusy(button, true, "Saving…");
  try {
    await api("/api/billing/payout-account", { method: "PUT", body: { stripe_account_id: id } });
    showStatus(byId("payout-status"), "Payout account saved.", "success");
    loadEarnings();
  } catch (e) {
    showFormError(accountForm, byId("payout-status"), e);
  } finally {
    setBusy(button, false);
  }
});

byId("payout-btn").addEventListener("click", async () => {
  const button = byId<HTMLButtonElement>("payout-btn");
  setBusy(button, true, "Paying out…");
  try {
    const res = await api<{ payout: { amount_usd: number; destination: string }; earnings: Earnings }>("/api/billing/payouts", {
      method: "POST",
      body: {},
    });
    showStatus(byId("payout-status"), `Paid out ${fmtUSD(res.payout.amount_usd)} to ${res.payout.destination}.`, "success");
    setBusy(button, false);
    showEarnings(res.earnings);
  } catch (e) {
    setBusy(button, false);
    showStatus(byId("payout-status"), errorMessage(e), "error");
  }
});

const openNodeDetail = detailDialog("node-detail");

async function showNode(id: string) {
  const content = openNodeDetail();
  try {
    const res = await api<{
      node: MnemoNode;
      earnings: { total_usd: number; last_30d_usd: number };
      active_contracts: unknown;
      metrics?: Record<string, unknown>[];
    }>(`/api/nodes/${encodeURIComponent(id)}`);
    const n = res.node;
    byId("node-detail-title").textContent = n.name;
    const active = Array.isArray(res.active_contracts) ? res.active_contracts.length : Number(res.active_contracts ?? 0);
    const dl = el("dl", { class: "kv" });
    const pairs: [string, string | Node][] = [
      ["Status", badge(n.status)],
      ["Type / region", `${n.node_type.replace(/_/g, " ")} · ${n.region}`],
      ["Location", n.latitude != null && n.longitude != null ? `${n.latitude.toFixed(3)}, ${n.longitude.toFixed(3)}` : "not set"],
      ["RAM", `${fmtGB(free(n, "ram"))} free of ${fmtGB(n.total_ram_gb)}`],
      ["VRAM", `${fmtGB(free(n, "vram"))} free of ${fmtGB(n.total_vram_gb)}`],
      ["Price", `${fmtPricePerSec(n.price_per_gb_sec)} · ${fmtPricePerHour(n.price_per_gb_sec)}`],
      ["Bandwidth / latency", `${n.bandwidth_mbps} Mbps · ${n.base_latency_ms} ms`],
      ["Active contracts", String(active)],
      ["Earned", `${fmtUSD(res.earnings?.total_usd)} (${fmtUSD(res.earnings?.last_30d_usd)} in 30 days)`],
      ["Last heartbeat", n.last_heartbeat_at ? fmtRelative(n.last_heartbeat_at) : "never"],
      ["Node id", el("code", {}, n.id)],
    ];
    for (const [k, v] of pairs) dl.append(el("dt", {}, k), el("dd", {}, v));
    content.replaceChildren(dl);
    const metrics = Array.isArray(res.metrics) ? res.metrics : [];
    if (metrics.length) {
      const canvas = el("canvas");
      content.append(el("h3", {}, "Recent heartbeats"), el("div", { class: "chart-box" }, canvas));
      const pts = [...metrics].reverse();
      const val = (m: Record<string, unknown>, k: string) => (typeof m[k] === "number" ? (m[k] as number) : null);
      drawChart(
        canvas,
        {
          type: "line",
          data: {
            labels: pts.map((m) => shortTime(String(m.recorded_at ?? m.created_at ?? m.t ?? ""))),
            datasets: [
              { label: "CPU %", data: pts.map((m) => val(m, "cpu_usage_pct")), borderColor: PALETTE[0], tension: 0.3 },
              { label: "GPU %", data: pts.map((m) => val(m, "gpu_usage_pct")), borderColor: PALETTE[3], tension: 0.3 },
              { label: "Free RAM (GB)", data: pts.map((m) => val(m, "available_ram_gb")), borderColor: PALETTE[1], tension: 0.3 },
            ],
          },
          options: { plugins: { legend: { position: "bottom" } }, scales: { y: { beginAtZero: true } } },
        },
        `Recent heartbeats of ${n.name}`,
      );
    }
  } catch (e) {
    content.replaceChildren(el("p", { class: "notice notice-error", role: "alert" }, errorMessage(e)));
  }
}

// ---- API keys ----
async function loadKeys() {
  const body = byId("keys-body");
  body.replaceChildren(loadingRow(5, "Loading keys…"));
  try {
    const { api_keys } = await api<{ api_keys: ApiKeyInfo[] }>("/api/auth/api-keys");
    body.replaceChildren(
      ...(api_keys.length
        ? api_keys.map((k) => {
            const revoke = rowButton("Revoke", "danger", `Revoke key ${k.name ?? k.prefix}`, () =>
              openDialog({
                title: "Revoke this key?",
                message: `Anything using ${k.prefix}… (such as a running agent) is refused from now on.`,
                confirmLabel: "Revoke key",
                danger: true,
                onSubmit: async () => {
                  await api(`/api/auth/api-keys/${encodeURIComponent(k.id)}`, { method: "DELETE" });
                  showStatus(byId("key-status"), `Key ${k.name ?? k.prefix} revoked.`, "success");
                  loadKeys();
                },
              }),
            );
            return el(
              "tr",
              {},
              el("td", {}, k.name || el("span", { class: "muted" }, "unnamed")),
              el("td", {}, el("code", {}, `${k.prefix}…`)),
              el("td", {}, fmtRelative(k.created_at)),
              el("td", {}, k.last_used_at ? fmtRelative(k.last_used_at) : el("span", { class: "muted" }, "never")),
              el("td", {}, el("div", { class: "actions" }, revoke)),
            );
          })
        : [messageRow(5, "No API keys yet.")]),
    );
  } catch (e) {
    body.replaceChildren(messageRow(5, `API keys could not be loaded: ${errorMessage(e)}`, "error"));
  }
}

const keyForm = byId<HTMLFormElement>("key-form");
keyForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const button = keyForm.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  const name = String(new FormData(keyForm).get("name") ?? "").trim();
  setBusy(button, true, "Creating…");
  byId("key-status").hidden = true;
  try {
    const res = await api<{ id: string; api_key: string; prefix: string }>("/api/auth/api-keys", {
      method: "POST",
      body: name ? { name } : {},
    });
    byId("new-key-value").textContent = res.api_key;
    byId("new-key").hidden = false;
    byId("agent-init").textContent = `mnemo-agent init --api-url ${location.origin} --api-key ${res.api_key} --region eu-west`;
    keyForm.reset();
    byId("copy-key").focus();
    loadKeys();
  } catch (e) {
    showFormError(keyForm, byId("key-status"), e);
  } finally {
    setBusy(button, false);
  }
});

byId("copy-key").addEventListener("click", async () => {
  const value = byId("new-key-value").textContent ?? "";
  try {
    await navigator.clipboard.writeText(value);
    byId("copy-key").textContent = "Copied";
  } catch {
    // Clipboard access can be refused; selecting the text still lets the user copy it by hand.
    const range = document.createRange();
    range.selectNodeContents(byId("new-key-value"));
    getSelection()?.removeAllRanges();
    getSelection()?.addRange(range);
    byId("copy-key").textContent = "Press Ctrl+C";
  }
});

byId("nodes-refresh").addEventListener("click", loadNodes);
loadNodes();
loadEarnings();
loadKeys();
