import { api, ApiError, errorMessage } from "../lib/api";
import { badge, byId, clearFieldErrors, el, numberOrUndefined, setBusy, setFieldError, showFormError, showStatus } from "../lib/dom";
import { fmtInt, fmtRelative, fmtUSD } from "../lib/format";

type Counts = Record<string, number>;
interface Overview {
  users: { total: number; by_role: Counts };
  nodes: { total: number; by_status: Counts };
  contracts: { total: number; by_status: Counts };
  revenue: Record<string, number>;
  ledger: { ok: boolean; entries_checked: number; head_hash: string; first_broken: { seq: number; id: string; reason: string } | null };
  generated_at: string;
}

const label = (k: string) => k.replace(/_usd$/, "").replace(/_/g, " ");

function tile(name: string, value: string): HTMLElement {
  return el("div", { class: "stat" }, el("div", { class: "stat-label" }, name), el("div", { class: "stat-value" }, value));
}

function group(title: string, total: number | undefined, counts: Counts | undefined, order: string[]): HTMLElement {
  // Every expected state is shown, zeros included, so the layout does not jump as states appear.
  const keys = [...order, ...Object.keys(counts ?? {}).filter((k) => !order.includes(k))];
  const NAMES: Record<string, string> = { user: "renters", provider: "providers", admin: "admins" };
  return el(
    "section",
    { class: "card" },
    el(
      "div",
      { class: "card-head" },
      el("h2", { class: "group-title" }, title),
      el("span", { class: "muted" }, `${fmtInt(total)} in total`),
    ),
    el("div", { class: "grid grid-4" }, ...keys.map((k) => tile(NAMES[k] ?? k, fmtInt(counts?.[k] ?? 0)))),
  );
}

function renderLedger(l: Overview["ledger"] | undefined) {
  const box = byId("ledger");
  if (!l) return;
  box.hidden = false;
  box.replaceChildren(
    el("strong", {}, "Ledger"),
    badge(l.ok ? "ok" : "broken"),
    el(
      "span",
      { class: "muted small" },
      l.ok
        ? `Hash chain verified over ${fmtInt(l.entries_checked)} ${l.entries_checked === 1 ? "entry" : "entries"}.`
        : `Hash chain broken at entry #${l.first_broken?.seq ?? "?"} (${l.first_broken?.reason ?? "unknown reason"}).`,
    ),
    el(
      "code",
      { class: "small head-hash", title: "Platform root: SHA-256 over every account chain's head" },
      l.head_hash ? `head ${l.head_hash.slice(0, 16)}…` : "",
    ),
  );
}

function render(o: Overview) {
  renderLedger(o.ledger);
  const revenue = Object.entries(o.revenue ?? {}).filter(([, v]) => typeof v === "number");
  byId("overview").replaceChildren(
    el(
      "section",
      { class: "card" },
      el(
        "div",
        { class: "card-head" },
        el("h2", { class: "group-title" }, "Money"),
        el("span", { class: "muted small" }, `as of ${fmtRelative(o.generated_at)}`),
      ),
      el("div", { class: "grid grid-4" }, ...revenue.map(([k, v]) => tile(label(k), fmtUSD(v)))),
    ),
    group("Users", o.users?.total, o.users?.by_role, ["user", "provider", "admin"]),
    group("Nodes", o.nodes?.total, o.nodes?.by_status, ["active", "maintenance", "offline"]),
    group("Contracts", o.contracts?.total, o.contracts?.by_status, ["pending", "active", "completed", "failed", "cancelled"]),
  );
}

async function load() {
  const status = byId("overview-status");
  status.hidden = true;
  try {
    const res = await api<Overview>("/api/admin/overview");
    render(res);
  } catch (e) {
    byId("overview").replaceChildren();
    const msg =
      e instanceof ApiError && e.status === 403
        ? "This page is for administrators. Your account cannot see the market overview."
        : `The overview could not be loaded: ${errorMessage(e)}`;
    showStatus(status, msg, "error");
  }
}

const form = byId<HTMLFormElement>("credit-form");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearFieldErrors(form);
  const d = new FormData(form);
  const user_id = String(d.get("user_id") ?? "").trim();
  const amount_usd = numberOrUndefined(d.get("amount_usd"));
  const reason = String(d.get("reason") ?? "").trim();
  let ok = true;
  if (!/^[0-9a-f-]{36}$/i.test(user_id)) setFieldError(form, "user_id", "Paste the user's id (a UUID)."), (ok = false);
  if (!amount_usd || amount_usd <= 0) setFieldError(form, "amount_usd", "A positive amount in USD."), (ok = false);
  if (!reason) setFieldError(form, "reason", "Say why, for the ledger."), (ok = false);
  if (!ok) return void form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  const button = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  setBusy(button, true, "Crediting…");
  try {
    await api("/api/admin/credits", { method: "POST", body: { user_id, amount_usd, reason } });
    showStatus(byId("credit-status"), `Credited ${fmtUSD(amount_usd!)} to ${user_id}.`, "success");
    form.reset();
    load();
  } catch (e) {
    showFormError(form, byId("credit-status"), e);
  } finally {
    setBusy(button, false);
  }
});

byId("reload").addEventListener("click", load);
load();
