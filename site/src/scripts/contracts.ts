import { api, errorMessage, getMe, type Balance, type ClientProfile, type Contract, type ContractLease, type MnemoNode } from "../lib/api";
import {
  badge,
  byId,
  clearFieldErrors,
  detailDialog,
  el,
  loadingRow,
  messageRow,
  numberOrUndefined,
  openDialog,
  pager,
  priceCell,
  rowButton,
  setBusy,
  showFormError,
  showStatus,
} from "../lib/dom";
import {
  fmtDateTime,
  fmtDuration,
  fmtGB,
  fmtPct,
  fmtPricePerHour,
  fmtPricePerSec,
  fmtRelative,
  fmtUSD,
  shortId,
  toDate,
} from "../lib/format";
import { followLive, type LiveState } from "../lib/live";
import { getUser } from "../lib/session";

const PAGE = 25;
const body = byId("contracts-body");
const listStatus = byId("list-status");
// Results of extend/settle/cancel live apart from load errors, so a refresh does not erase them.
const actionStatus = byId("action-status");
const filter = byId<HTMLSelectElement>("status-filter");
const canAct = getUser()?.role !== "provider";
const pages = pager("", PAGE, () => loadContracts(true));
let lastFlash = new Set<string>();
const nodeNames = new Map<string, Promise<string | null>>();

function nodeName(id: string): Promise<string | null> {
  if (!nodeNames.has(id)) {
    nodeNames.set(
      id,
      api<{ node: MnemoNode }>(`/api/nodes/${encodeURIComponent(id)}`, { redirectOn401: false })
        .then((r) => r.node?.name ?? null)
        .catch(() => null),
    );
  }
  return nodeNames.get(id)!;
}

async function loadBalance() {
  if (!canAct) return void (byId("balance").hidden = true);
  try {
    const b = await api<Balance>("/api/billing/balance");
    byId("b-balance").textContent = fmtUSD(b.balance_usd);
    byId("b-held").textContent = fmtUSD(b.held_usd);
    byId("b-available").textContent = fmtUSD(b.available_usd);
    byId("b-burn").textContent = `${fmtUSD(b.burn_rate_usd_per_hour)}/h`;
    byId("b-runway").textContent =
      b.runway_sec == null || !b.burn_rate_usd_per_hour ? "Nothing running" : `Runway ${fmtDuration(b.runway_sec)}`;
    byId("balance-status").hidden = true;
  } catch (e) {
    showStatus(byId("balance-status"), `Balance unavailable: ${errorMessage(e)}`, "error");
  }
}

function termCell(c: Contract): HTMLElement {
  const cell = el("td", {});
  if (c.status === "pending") {
    cell.append(el("div", {}, fmtDuration(c.duration_sec)), el("div", { class: "cell-sub" }, "starts when the node confirms"));
    return cell;
  }
  const start = toDate(c.start_time);
  const end = toDate(c.end_time);
  if (c.status === "active" && start && end) {
    const pct = Math.max(0, Math.min(100, ((Date.now() - start.getTime()) / (end.getTime() - start.getTime())) * 100));
    const bar = el("span");
    bar.style.width = `${pct}%`;
    cell.append(
      el("div", {}, `Ends ${fmtRelative(c.end_time)}`),
      el(
        "div",
        {
          class: "meter term-meter",
          role: "progressbar",
          "aria-valuemin": 0,
          "aria-valuemax": 100,
          "aria-valuenow": Math.round(pct),
          "aria-label": "Term elapsed",
        },
        bar,
      ),
    );
    return cell;
  }
  cell.append(
    el("div", {}, fmtDuration(c.duration_sec)),
    el("div", { class: "cell-sub" }, c.completed_at ? `ended ${fmtRelative(c.completed_at)}` : `created ${fmtRelative(c.created_at)}`),
  );
  return cell;
}

function actionButtons(c: Contract): HTMLElement {
  const wrap = el("div", { class: "actions" });
  wrap.append(rowButton("Details", "secondary", `Details of contract ${shortId(c.id)}`, () => showDetail(c.id)));
  if (!canAct) return wrap;
  if (c.status === "active") {
    wrap.append(
      rowButton("Extend", "ghost", `Extend contract ${shortId(c.id)}`, () => extendDialog(c)),
      rowButton("Settle", "primary", `Settle contract ${shortId(c.id)}`, () => settleDialog(c)),
    );
  }
  if (c.status === "pending") {
    wrap.append(rowButton("Cancel", "danger", `Cancel contract ${shortId(c.id)}`, () => cancelDialog(c)));
  }
  return wrap;
}

function row(c: Contract): HTMLTableRowElement {
  const name = el("div", { class: "cell-sub" }, `node ${shortId(c.node_id)}`);
  nodeName(c.node_id).then((n) => n && (name.textContent = n));
  const tr = el(
    "tr",
    { "data-contract-id": c.id, class: lastFlash.has(c.id) ? "flash" : null },
    el("td", {}, el("div", { class: "cell-title mono" }, shortId(c.id)), name),
    el(
      "td",
      {},
      badge(c.status),
      c.auto_renew ? el("div", { class: "cell-sub" }, "auto-renew") : null,
      c.failed_over_to ? el("div", { class: "cell-sub" }, `moved to ${shortId(c.failed_over_to)}`) : null,
    ),
    el("td", { class: "num" }, el("div", {}, `${fmtGB(c.ram_gb)} RAM`), el("div", { class: "cell-sub" }, `${fmtGB(c.vram_gb)} VRAM`)),
    termCell(c),
    priceCell(c.price_per_gb_sec),
    el("td", { class: "num" }, fmtUSD(c.accrued_cost_usd)),
    el(
      "td",
      { class: "num" },
      el("div", {}, fmtUSD(c.total_cost_usd)),
      el("div", { class: "cell-sub" }, c.settlement_hash ? "settled" : c.status === "completed" ? "settling…" : "estimate"),
    ),
    el("td", {}, actionButtons(c)),
  );
  return tr;
}

let loading = false;
async function loadContracts(showSpinner = false) {
  if (loading) return;
  loading = true;
  if (showSpinner) body.replaceChildren(loadingRow(8, "Loading contracts…"));
  try {
    const res = await api<{ contracts: Contract[]; total_count: number }>("/api/contracts", {
      query: { status: filter.value, limit: PAGE, offset: pages.offset },
    });
    const total = res.total_count ?? res.contracts.length;
    body.replaceChildren(
      ...(res.contracts.length
        ? res.contracts.map(row)
        : [
            messageRow(
              8,
              filter.value
                ? `No ${filter.value} contracts.`
                : canAct
                  ? "No contracts yet. Find memory in the marketplace and rent it to start one."
                  : "No contracts on your nodes yet.",
            ),
          ]),
    );
    pages.show(res.contracts.length, total);
    listStatus.hidden = true;
    lastFlash = new Set();
  } catch (e) {
    if (showSpinner || !body.children.length) body.replaceChildren(messageRow(8, "Contracts could not be loaded.", "error"));
    showStatus(listStatus, errorMessage(e), "error");
  } finally {
    loading = false;
  }
}

function refreshAll() {
  loadContracts();
  loadBalance();
}

function extendDialog(c: Contract) {
  openDialog({
    title: "Extend contract",
    message: `Adds time to contract ${shortId(c.id)} at ${fmtPricePerSec(c.price_per_gb_sec)}; the added cost is held from your balance.`,
    fields: [
      { name: "amount", label: "Add", type: "number", value: "1", min: "1", step: "1", required: true },
      {
        name: "unit",
        label: "Unit",
        value: "3600",
        options: [
          { value: "60", label: "minutes" },
          { value: "3600", label: "hours" },
        ],
      },
    ],
    confirmLabel: "Extend",
    onSubmit: async (d) => {
      const amount = numberOrUndefined(d.get("amount"));
      if (!amount || amount <= 0)
        throw Object.assign(new Error("Enter how much time to add."), {
          fieldErrors: [{ field: "amount", message: "More than zero, please." }],
        });
      const additional_sec = Math.round(amount * Number(d.get("unit")));
      const est = (c.ram_gb + c.vram_gb) * additional_sec * c.price_per_gb_sec;
      await api(`/api/contracts/${encodeURIComponent(c.id)}/extend`, { method: "POST", body: { additional_sec } });
      showStatus(actionStatus, `Extended by ${fmtDuration(additional_sec)} (about ${fmtUSD(est)} more).`, "success");
      refreshAll();
    },
  });
}

function settleDialog(c: Contract) {
  openDialog({
    title: "Settle contract",
    message: `Ends contract ${shortId(c.id)} now and releases the memory. You pay for the time held so far (accrued ${fmtUSD(c.accrued_cost_usd)}); the rest of the hold returns to your balance.`,
    fields: [
      {
        name: "actual_egress_gb",
        label: "Egress used (GB, optional)",
        type: "number",
        min: "0",
        step: "any",
        hint: "Only if the offer charges for egress.",
      },
    ],
    confirmLabel: "Settle now",
    onSubmit: async (d) => {
      const egress = numberOrUndefined(d.get("actual_egress_gb"));
      await api(`/api/contracts/${encodeURIComponent(c.id)}/settle`, {
        method: "POST",
        body: egress === undefined ? {} : { actual_egress_gb: egress },
      });
      showStatus(actionStatus, `Contract ${shortId(c.id)} settled. The final cost appears once settlement completes.`, "success");
      refreshAll();
    },
  });
}

function cancelDialog(c: Contract) {
  openDialog({
    title: "Cancel contract",
    message: `Cancels pending contract ${shortId(c.id)}. Nothing has been charged yet, and the hold returns to your balance.`,
    confirmLabel: "Cancel contract",
    danger: true,
    onSubmit: async () => {
      await api(`/api/contracts/${encodeURIComponent(c.id)}/cancel`, { method: "POST" });
      showStatus(actionStatus, `Contract ${shortId(c.id)} cancelled.`, "success");
      refreshAll();
    },
  });
}

const openDetail = detailDialog("detail");

function kv(pairs: [string, string | Node][]): HTMLDListElement {
  const dl = el("dl", { class: "kv" });
  for (const [k, v] of pairs) dl.append(el("dt", {}, k), el("dd", {}, v));
  return dl;
}

const GIB = 2 ** 30;
function fmtBytes(n: number): string {
  if (n >= GIB) return `${(n / GIB).toFixed(2)} GB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} B`;
}

/** A read-only value with a Copy button; where the clipboard is refused, the text is selected instead. */
function copyable(id: string, label: string, value: string): HTMLElement {
  const input = el("input", {
    id,
    class: "mono copy-value",
    type: "text",
    readonly: true,
    value,
    "aria-label": label,
    spellcheck: "false",
  }) as HTMLInputElement;
  const button = el(
    "button",
    { class: "btn btn-secondary btn-sm", type: "button", id: `${id}-copy`, "aria-label": `Copy ${label.toLowerCase()}` },
    "Copy",
  );
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
      button.textContent = "Copied";
    } catch {
      input.focus();
      input.select();
      button.textContent = "Press Ctrl+C";
    }
  });
  return el("div", { class: "copy-row" }, input, button);
}

/** How to use the memory: the lease's redis:// URL and a one-line check with redis-cli. */
async function leaseSection(c: Contract): Promise<HTMLElement> {
  const section = el("div", { class: "detail-section", id: "lease" }, el("h3", {}, "Connect"));
  try {
    const lease = await api<ContractLease>(`/api/contracts/${encodeURIComponent(c.id)}/lease`);
    section.append(
      el(
        "p",
        { class: "small muted" },
        "Any Redis client works with this URL (redis-cli, ioredis, redis-py, LMCache's redis:// backend). Its password is your lease token: keep it to yourself.",
      ),
      el("label", { class: "small", for: "lease-url" }, "Lease URL"),
      copyable("lease-url", "Lease URL", lease.url),
      el("label", { class: "small", for: "lease-cli" }, "Try it"),
      copyable("lease-cli", "redis-cli command", `redis-cli -u '${lease.url}' PING`),
      el(
        "p",
        { class: "small muted" },
        `Valid until ${fmtDateTime(lease.expires_at)}; extending the contract gives a new token. ${lease.tls ? "" : "The connection is not encrypted (TLS comes later): use it on networks you trust."}`,
      ),
    );
  } catch (e) {
    section.append(el("p", { class: "notice notice-warning", role: "status" }, `The lease is not available: ${errorMessage(e)}`));
  }
  return section;
}

async function showDetail(id: string) {
  const detailContent = openDetail(`Contract ${shortId(id)}`);
  try {
    const res = await api<{ contract: Contract; node: MnemoNode | null; metrics: Record<string, unknown> | null }>(
      `/api/contracts/${encodeURIComponent(id)}`,
    );
    const c = res.contract;
    const parts: Node[] = [
      kv([
        ["Status", badge(c.status)],
        ["Memory", `${fmtGB(c.ram_gb)} RAM + ${fmtGB(c.vram_gb)} VRAM`],
        ["Duration", fmtDuration(c.duration_sec)],
        ["Started", fmtDateTime(c.start_time)],
        ["Ends", c.end_time ? `${fmtDateTime(c.end_time)} (${fmtRelative(c.end_time)})` : "—"],
        ["Price", `${fmtPricePerSec(c.price_per_gb_sec)} · ${fmtPricePerHour(c.price_per_gb_sec)}`],
        ["Accrued", fmtUSD(c.accrued_cost_usd)],
        ["Total", `${fmtUSD(c.total_cost_usd)}${c.settlement_hash ? " (final)" : " (estimate)"}`],
        ["Auto-renew", c.auto_renew ? "yes" : "no"],
        ["Settlement hash", c.settlement_hash ? el("code", {}, c.settlement_hash) : "—"],
        ["Failed over to", c.failed_over_to ?? "—"],
        ["Measured egress", c.measured_egress_gb == null ? "—" : `${fmtBytes(c.measured_egress_gb * GIB)} (reported by the node)`],
        ["Contract id", el("code", {}, c.id)],
      ]),
    ];
    if (c.status === "active" && canAct) parts.push(await leaseSection(c));
    if (c.lease_receipt) {
      const r = c.lease_receipt;
      parts.push(
        el(
          "div",
          { class: "detail-section" },
          el("h3", {}, "Lease receipt"),
          kv([
            ["Wiped", fmtDateTime(r.wiped_at)],
            ["Keys at the end", String(r.keys)],
            ["Sent / received", `${fmtBytes(r.bytes_out)} / ${fmtBytes(r.bytes_in)}`],
            ["Keyspace digest", el("code", { class: "digest" }, r.digest)],
          ]),
        ),
      );
    }
    if (res.node) {
      const n = res.node;
      parts.push(
        el(
          "div",
          { class: "detail-section" },
          el("h3", {}, "Node"),
          kv([
            ["Name", n.name],
            ["Type / region", `${n.node_type.replace(/_/g, " ")} · ${n.region}`],
            ["Status", badge(n.status)],
            ["Latency", `${n.base_latency_ms} ms base`],
            ["Bandwidth", `${n.bandwidth_mbps} Mbps`],
          ]),
        ),
      );
    }
    const m = res.metrics;
    parts.push(el("div", { class: "detail-section" }, el("h3", {}, "Latest heartbeat")));
    if (m) {
      const num = (k: string) => (typeof m[k] === "number" ? (m[k] as number) : null);
      parts.push(
        kv([
          ["Received", fmtRelative((m.recorded_at ?? m.created_at ?? m.timestamp ?? m.t) as string | undefined)],
          ["Free RAM", fmtGB(num("available_ram_gb"))],
          ["Free VRAM", fmtGB(num("available_vram_gb"))],
          ["CPU", fmtPct(num("cpu_usage_pct"))],
          ["GPU", fmtPct(num("gpu_usage_pct"))],
          ["Temperature", num("temperature_c") == null ? "—" : `${num("temperature_c")!.toFixed(0)} °C`],
        ]),
      );
    } else parts.push(el("p", { class: "muted" }, "The node has not sent a heartbeat yet."));
    detailContent.replaceChildren(...parts);
  } catch (e) {
    detailContent.replaceChildren(el("p", { class: "notice notice-error", role: "alert" }, errorMessage(e)));
  }
}

filter.addEventListener("change", () => ((pages.offset = 0), loadContracts(true)));
byId("refresh").addEventListener("click", refreshAll);

const liveEl = byId("live-state");
const STATE_TEXT: Record<LiveState, string> = { connecting: "Connecting…", live: "Live updates", polling: "Updating every 10 s" };
function setLive(s: LiveState) {
  liveEl.dataset.state = s;
  liveEl.textContent = STATE_TEXT[s];
}

// ---- monthly budget (the client profile) ----
const budgetForm = byId<HTMLFormElement>("budget-form");
function showBudget(c: ClientProfile) {
  const cap = c.budget_monthly_usd;
  byId("budget-summary").textContent =
    cap == null
      ? `No cap · ${fmtUSD(c.current_spend_usd ?? 0)} spent this month`
      : `${fmtUSD(c.current_spend_usd ?? 0)} of ${fmtUSD(cap)} spent this month`;
  (budgetForm.elements.namedItem("budget_monthly_usd") as HTMLInputElement).value = cap == null ? "" : String(cap);
  (budgetForm.elements.namedItem("default_region") as HTMLInputElement).value = c.default_region ?? "";
}
budgetForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearFieldErrors(budgetForm);
  const d = new FormData(budgetForm);
  const button = budgetForm.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  setBusy(button, true, "Saving…");
  try {
    const res = await api<{ client: ClientProfile } & Partial<ClientProfile>>("/api/auth/me/client", {
      method: "PUT",
      body: {
        budget_monthly_usd: numberOrUndefined(d.get("budget_monthly_usd")) ?? null,
        default_region: String(d.get("default_region") ?? "").trim() || null,
      },
    });
    const client = (res.client ?? res) as ClientProfile;
    showBudget(client);
    showStatus(byId("budget-status"), "Saved.", "success");
  } catch (e) {
    showFormError(budgetForm, byId("budget-status"), e);
  } finally {
    setBusy(button, false);
  }
});
if (!canAct) byId("budget-card").hidden = true;

// ---- balance history (the ledger), loaded when opened ----
const KIND: Record<string, string> = {
  topup: "Top-up",
  credit: "Credit",
  hold: "Hold for a contract",
  release: "Hold released",
  charge: "Charge",
  provider_earning: "Provider earning",
  platform_fee: "Platform fee",
  payout: "Payout",
  refund: "Refund",
};
interface LedgerEntry {
  id: string;
  kind: string;
  amount_usd: number;
  contract_id: string | null;
  memo?: string | null;
  created_at: string;
  hash: string;
}

async function loadLedger() {
  const body = byId("ledger-body");
  body.replaceChildren(loadingRow(5, "Loading history…"));
  try {
    const { entries } = await api<{ entries: LedgerEntry[] }>("/api/billing/ledger", { query: { limit: 50 } });
    body.replaceChildren(
      ...(entries.length
        ? entries.map((e) =>
            el(
              "tr",
              {},
              el("td", { title: fmtDateTime(e.created_at) }, fmtRelative(e.created_at)),
              el("td", {}, el("div", {}, KIND[e.kind] ?? e.kind), e.memo ? el("div", { class: "cell-sub" }, e.memo) : null),
              el(
                "td",
                { class: `num ${e.amount_usd >= 0 ? "amount-in" : "amount-out"}` },
                `${e.amount_usd > 0 ? "+" : ""}${fmtUSD(e.amount_usd)}`,
              ),
              el("td", { class: "mono" }, e.contract_id ? shortId(e.contract_id) : "—"),
              el("td", { class: "mono", title: e.hash }, `${e.hash.slice(0, 12)}…`),
            ),
          )
        : [messageRow(5, "No balance movements yet.")]),
    );
  } catch (e) {
    body.replaceChildren(messageRow(5, `History could not be loaded: ${errorMessage(e)}`, "error"));
  }
}
byId<HTMLDetailsElement>("ledger").addEventListener("toggle", (ev) => {
  if ((ev.currentTarget as HTMLDetailsElement).open) loadLedger();
});
if (!canAct) byId("ledger").hidden = true;

let debounce: ReturnType<typeof setTimeout> | null = null;
loadContracts(true);
loadBalance();
getMe()
  .then(({ client }) => {
    if (!client?.id) throw new Error("no client profile");
    showBudget(client);
    followLive({
      clientId: client.id,
      onState: setLive,
      poll: refreshAll,
      onMessage: (m) => {
        if (m.type !== "contract_update") return;
        const d = m.data as { id?: string; contract?: { id?: string } } | null;
        const id = d?.id ?? d?.contract?.id;
        if (id) lastFlash.add(id);
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(refreshAll, 300);
      },
    });
  })
  .catch(() => {
    byId("budget-summary").textContent = "unavailable";
    // Providers have no client profile to follow; polling keeps their view current.
    setLive("polling");
    setInterval(refreshAll, 10_000);
  });
