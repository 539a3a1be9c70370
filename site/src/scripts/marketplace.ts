import { api, ApiError, errorMessage, getMe, qs, type Balance, type Cluster, type Contract, type Match, type Offer } from "../lib/api";
import {
  badge,
  byId,
  clear,
  clearFieldErrors,
  el,
  loadingRow,
  messageRow,
  numberOrUndefined,
  pager,
  priceCell,
  setBusy,
  setFieldError,
  showFieldErrors,
  showFormError,
  showStatus,
} from "../lib/dom";
import { fmtDuration, fmtGB, fmtKm, fmtMs, fmtUSD } from "../lib/format";
import { getUser } from "../lib/session";

const PAGE = 20;
const locForm = byId<HTMLFormElement>("loc-form");
const filterForm = byId<HTMLFormElement>("filter-form");
const requestForm = byId<HTMLFormElement>("request-form");
const offersBody = byId("offers-body");
const offersStatus = byId("offers-status");
const requestStatus = byId("request-status");
const matchesList = byId("matches");
const pages = pager("offers", PAGE, () => loadOffers());

function clientCoords(): { client_lat?: number; client_lng?: number } {
  const d = new FormData(locForm);
  const lat = numberOrUndefined(d.get("client_lat"));
  const lng = numberOrUndefined(d.get("client_lng"));
  return lat !== undefined && lng !== undefined ? { client_lat: lat, client_lng: lng } : {};
}

async function loadBalance() {
  const chip = byId("balance-chip");
  const role = getUser()?.role;
  if (!role || role === "provider") return void (chip.hidden = true);
  try {
    const b = await api<Balance>("/api/billing/balance");
    byId("balance-value").textContent = fmtUSD(b.available_usd);
    chip.title = `Balance ${fmtUSD(b.balance_usd)}, held ${fmtUSD(b.held_usd)}`;
  } catch (e) {
    byId("balance-value").textContent = "unavailable";
    chip.title = errorMessage(e);
  }
}

async function loadRegions() {
  try {
    const { clusters } = await api<{ clusters: Cluster[] }>("/api/clusters");
    const list = byId("region-list");
    for (const c of clusters) list.append(el("option", { value: c.region }));
  } catch {
    /* the region fields stay free text */
  }
}

async function loadProfile() {
  try {
    const { client } = await getMe();
    if (client?.latitude != null && client?.longitude != null) {
      (locForm.elements.namedItem("client_lat") as HTMLInputElement).value = String(client.latitude);
      (locForm.elements.namedItem("client_lng") as HTMLInputElement).value = String(client.longitude);
      byId("loc-note").textContent = "From your profile; change it here for this search.";
    }
    if (client?.default_region)
      (requestForm.elements.namedItem("region") as HTMLInputElement).placeholder = `Any (default ${client.default_region})`;
  } catch {
    /* no profile: location stays empty, distances show as — */
  }
}

byId("geo-btn").addEventListener("click", () => {
  const note = byId("loc-note");
  if (!("geolocation" in navigator)) return void (note.textContent = "This browser cannot share its location; type coordinates instead.");
  note.textContent = "Asking the browser for your location…";
  navigator.geolocation.getCurrentPosition(
    (p) => {
      (locForm.elements.namedItem("client_lat") as HTMLInputElement).value = p.coords.latitude.toFixed(4);
      (locForm.elements.namedItem("client_lng") as HTMLInputElement).value = p.coords.longitude.toFixed(4);
      note.textContent = "Location set from your browser.";
      loadOffers();
    },
    (err) => (note.textContent = `Could not get your location (${err.message || "permission denied"}). Type coordinates instead.`),
    { timeout: 8000, maximumAge: 600_000 },
  );
});

byId("save-loc").hidden = !getUser();
byId("save-loc").addEventListener("click", async () => {
  const note = byId("loc-note");
  const c = clientCoords();
  if (c.client_lat === undefined) {
    setFieldError(locForm, "client_lat", "Enter latitude and longitude first.");
    return;
  }
  clearFieldErrors(locForm);
  try {
    await api("/api/auth/me/client", { method: "PUT", body: { latitude: c.client_lat, longitude: c.client_lng } });
    note.textContent = "Saved as your default location.";
  } catch (e) {
    if (e instanceof ApiError && e.fieldErrors.length) {
      const rest = showFieldErrors(
        locForm,
        e.fieldErrors.map((f) => ({ ...f, field: f.field.replace(/^latitude$/, "client_lat").replace(/^longitude$/, "client_lng") })),
      );
      note.textContent = rest.join(" ");
    } else note.textContent = errorMessage(e);
  }
});

// Distances in the offer list follow the location as soon as it changes.
locForm.addEventListener("change", () => {
  pages.offset = 0;
  loadOffers();
});

function filters() {
  const d = new FormData(filterForm);
  const str = (k: string) => String(d.get(k) ?? "").trim() || undefined;
  return {
    region: str("region"),
    node_type: str("node_type"),
    min_ram_gb: numberOrUndefined(d.get("min_ram_gb")),
    min_vram_gb: numberOrUndefined(d.get("min_vram_gb")),
    max_price_per_gb_sec: numberOrUndefined(d.get("max_price_per_gb_sec")),
    min_uptime_score: numberOrUndefined(d.get("min_uptime_score")),
    max_distance_km: numberOrUndefined(d.get("max_distance_km")),
    ...clientCoords(),
  };
}

function offerRow(o: Offer): HTMLTableRowElement {
  const btn = el("button", { class: "btn btn-ghost btn-sm", type: "button" }, "Request");
  btn.setAttribute("aria-label", `Request memory on ${o.node_name}`);
  btn.addEventListener("click", () => prefillRequest(o));
  return el(
    "tr",
    {},
    el("td", {}, el("div", { class: "cell-title" }, o.node_name), badge(o.node_type)),
    el("td", {}, o.region),
    el("td", { class: "num" }, fmtGB(o.available_ram_gb)),
    el("td", { class: "num" }, fmtGB(o.available_vram_gb)),
    priceCell(o.price_per_gb_sec),
    el("td", { class: "num" }, o.uptime_score == null ? "—" : o.uptime_score.toFixed(1)),
    el("td", { class: "num" }, fmtKm(o.distance_km)),
    el("td", { class: "num" }, fmtMs(o.estimated_latency_ms)),
    el("td", {}, btn),
  );
}

async function loadOffers() {
  clearFieldErrors(filterForm);
  offersStatus.hidden = true;
  offersBody.replaceChildren(loadingRow(9, "Loading offers…"));
  try {
    const f = filters();
    if (f.max_distance_km !== undefined && f.client_lat === undefined) {
      byId("loc-note").textContent = "Set your location to filter by distance.";
    }
    const res = await api<{ offers: Offer[]; total_count: number }>(`/api/marketplace${qs({ ...f, limit: PAGE, offset: pages.offset })}`);
    offersBody.replaceChildren(
      ...(res.offers.length
        ? res.offers.map(offerRow)
        : [messageRow(9, "No offers match these filters. Try a wider region, less memory or a higher price.")]),
    );
    const total = res.total_count ?? res.offers.length;
    byId("offers-count").textContent = `${total} offer${total === 1 ? "" : "s"}`;
    pages.show(res.offers.length, total);
  } catch (e) {
    offersBody.replaceChildren(messageRow(9, "Offers could not be loaded.", "error"));
    showFormError(filterForm, offersStatus, e, "Check the highlighted filters.");
  }
}

filterForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  pages.offset = 0;
  loadOffers();
});
filterForm.addEventListener("reset", () => setTimeout(() => ((pages.offset = 0), loadOffers())));

function prefillRequest(o: Offer) {
  const set = (name: string, v: string) => ((requestForm.elements.namedItem(name) as HTMLInputElement).value = v);
  set("region", o.region);
  const ram = Number((requestForm.elements.namedItem("ram_gb") as HTMLInputElement).value) || 0;
  if (ram > o.available_ram_gb) set("ram_gb", String(o.available_ram_gb));
  if (o.available_vram_gb === 0) set("vram_gb", "0");
  requestForm.scrollIntoView({ behavior: "smooth", block: "start" });
  (requestForm.elements.namedItem("ram_gb") as HTMLInputElement).focus({ preventScroll: true });
}

interface RequestInput {
  ram_gb: number;
  vram_gb: number;
  duration_sec: number;
  auto_renew: boolean;
}

function readRequest(): { body: Record<string, unknown>; input: RequestInput } | null {
  clearFieldErrors(requestForm);
  const d = new FormData(requestForm);
  const ram = numberOrUndefined(d.get("ram_gb")) ?? 0;
  const vram = numberOrUndefined(d.get("vram_gb")) ?? 0;
  const amount = numberOrUndefined(d.get("duration"));
  const unit = Number(d.get("duration_unit") ?? 60);
  let ok = true;
  if (!Number.isInteger(ram) || ram < 0) setFieldError(requestForm, "ram_gb", "Whole GB, 0 or more."), (ok = false);
  if (!Number.isInteger(vram) || vram < 0) setFieldError(requestForm, "vram_gb", "Whole GB, 0 or more."), (ok = false);
  if (ok && ram + vram <= 0) setFieldError(requestForm, "ram_gb", "Ask for some RAM or VRAM."), (ok = false);
  if (amount === undefined || amount <= 0) setFieldError(requestForm, "duration", "How long you need it."), (ok = false);
  if (!ok) {
    requestForm.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
    return null;
  }
  const duration_sec = Math.round(amount! * unit);
  const str = (k: string) => String(d.get(k) ?? "").trim() || undefined;
  const body = {
    ram_gb: ram,
    vram_gb: vram,
    duration_sec,
    region: str("region"),
    max_price_per_gb_sec: numberOrUndefined(d.get("max_price_per_gb_sec")),
    min_uptime_score: numberOrUndefined(d.get("min_uptime_score")),
    max_distance_km: numberOrUndefined(d.get("max_distance_km")),
    limit: numberOrUndefined(d.get("limit")),
    prefer_local: d.get("prefer_local") !== null,
    ...clientCoords(),
  };
  return { body, input: { ram_gb: ram, vram_gb: vram, duration_sec, auto_renew: d.get("auto_renew") !== null } };
}

const MAX = { proximity: 300, price: 50, reliability: 50, capacity: 30, node_type: 20 } as const;
const LABEL = { proximity: "Proximity", price: "Price", reliability: "Reliability", capacity: "Capacity", node_type: "Node type" } as const;

function matchCard(m: Match, rank: number, input: RequestInput): HTMLLIElement {
  const breakdown = el("div", { class: "breakdown", "aria-label": "Score breakdown" });
  for (const key of Object.keys(MAX) as (keyof typeof MAX)[]) {
    const v = Number(m.score_breakdown?.[key] ?? 0);
    const bar = el("span");
    bar.style.width = `${Math.max(0, Math.min(100, (v / MAX[key]) * 100))}%`;
    breakdown.append(
      el("span", {}, LABEL[key]),
      el("div", { class: "meter", "aria-hidden": "true" }, bar),
      el("span", { class: "mono" }, v.toFixed(1)),
    );
  }
  const rent = el("button", { class: "btn btn-accent", type: "button" }, "Rent");
  rent.setAttribute(
    "aria-label",
    `Rent ${input.ram_gb} GB RAM and ${input.vram_gb} GB VRAM on ${m.node_name} for ${fmtDuration(input.duration_sec)}`,
  );
  const result = el("div", { class: "small", role: "status" });
  rent.addEventListener("click", () => createContract(m, input, rent, result));
  return el(
    "li",
    { class: "card match" },
    el("div", { class: "match-rank", "aria-label": `Rank ${rank}` }, `#${rank}`),
    el(
      "div",
      {},
      el("div", { class: "row" }, el("span", { class: "cell-title" }, m.node_name), badge(m.node_type)),
      el(
        "div",
        { class: "match-meta" },
        el("span", {}, m.region),
        el("span", {}, `Distance ${fmtKm(m.distance_km)}`),
        el("span", {}, `Latency ${fmtMs(m.estimated_latency_ms)}`),
      ),
      el(
        "div",
        { class: "row" },
        el("span", { class: "match-score" }, m.match_score.toFixed(1)),
        el("span", { class: "small muted" }, "match score"),
      ),
    ),
    breakdown,
    el(
      "div",
      { class: "match-cta" },
      el("span", { class: "small muted" }, "Estimated cost"),
      el("span", { class: "match-cost" }, fmtUSD(m.estimated_cost)),
      rent,
      result,
    ),
  );
}

async function createContract(m: Match, input: RequestInput, button: HTMLButtonElement, result: HTMLElement) {
  setBusy(button, true, "Creating…");
  result.className = "small";
  result.textContent = "";
  try {
    const { contract } = await api<{ contract: Contract }>("/api/contracts/create", {
      method: "POST",
      body: {
        node_id: m.node_id,
        ram_gb: input.ram_gb,
        vram_gb: input.vram_gb,
        duration_sec: input.duration_sec,
        auto_renew: input.auto_renew,
      },
    });
    button.hidden = true;
    result.className = "small notice notice-success";
    result.replaceChildren(`Contract created (${contract.status}). `, el("a", { href: "/contracts" }, "View your contracts"));
    loadBalance();
    loadOffers();
  } catch (e) {
    setBusy(button, false);
    result.className = "small notice notice-error";
    result.setAttribute("role", "alert");
    result.textContent = errorMessage(e);
  }
}

requestForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const req = readRequest();
  if (!req) return;
  if (!getUser()) {
    // Browsing is public; matching and renting need an account. Say so instead of bouncing to /login.
    requestStatus.hidden = false;
    requestStatus.className = "notice notice-info";
    requestStatus.setAttribute("role", "status");
    requestStatus.replaceChildren(
      "Matching and renting need an account: ",
      el("a", { href: `/login?next=${encodeURIComponent("/marketplace")}` }, "sign in"),
      " or ",
      el("a", { href: "/register" }, "create one"),
      " (it takes a minute).",
    );
    return;
  }
  const button = requestForm.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  setBusy(button, true, "Matching…");
  requestStatus.hidden = true;
  clear(matchesList);
  byId("request-summary").textContent = "";
  try {
    const res = await api<{ request_id: string; matches: Match[]; total_candidates: number }>("/api/marketplace/request", {
      method: "POST",
      body: req.body,
    });
    byId("request-summary").textContent =
      `${res.matches.length} of ${res.total_candidates} candidate node${res.total_candidates === 1 ? "" : "s"} for ${fmtGB(req.input.ram_gb)} RAM + ${fmtGB(req.input.vram_gb)} VRAM over ${fmtDuration(req.input.duration_sec)}`;
    if (!res.matches.length)
      showStatus(
        requestStatus,
        "No node can hold this request right now. Try less memory, a shorter duration, another region or a higher maximum price.",
        "info",
      );
    matchesList.replaceChildren(...res.matches.map((m, i) => matchCard(m, i + 1, req.input)));
  } catch (e) {
    showFormError(requestForm, requestStatus, e, "Check the highlighted fields.");
  } finally {
    setBusy(button, false);
  }
});

// Anonymous visitors browse offers too; only a signed-in renter has a profile to start from.
(getUser() ? loadProfile() : Promise.resolve()).then(loadOffers);
loadBalance();
loadRegions();
