import { api, ApiError, errorMessage, type Cluster } from "../lib/api";
import { fmtGB, fmtInt, fmtPricePerHour, fmtPricePerSec } from "../lib/format";
import { CLOUD_USD_PER_GB_HOUR, EXAMPLE_PRICE_PER_GB_SEC } from "../lib/reference-prices";

const $ = (id: string) => document.getElementById(id)!;

function showComparison(pricePerSec: number, live: boolean) {
  const perHour = pricePerSec * 3600;
  $("cmp-mnemo-kind").textContent = live ? "(live network average)" : "(example price; no live offers yet)";
  $("cmp-mnemo-val").textContent = fmtPricePerHour(pricePerSec);
  ($("cmp-mnemo-bar") as HTMLElement).style.width = `${Math.max(1.5, Math.min(100, (perHour / CLOUD_USD_PER_GB_HOUR) * 100))}%`;
  const ratio = CLOUD_USD_PER_GB_HOUR / perHour;
  $("cmp-summary").textContent =
    ratio >= 1
      ? `About ${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}× less per GB-hour than the cloud reference (${fmtPricePerSec(pricePerSec)}).`
      : `About ${(1 / ratio).toFixed(1)}× more per GB-hour than the cloud reference right now.`;
}

async function load() {
  try {
    const { clusters } = await api<{ clusters: Cluster[] }>("/api/clusters", { redirectOn401: false });
    let nodes = 0,
      ram = 0,
      vram = 0,
      freeRam = 0,
      freeVram = 0,
      priceWeighted = 0,
      priceWeight = 0;
    for (const c of clusters) {
      nodes += c.total_nodes;
      ram += c.total_ram_gb;
      vram += c.total_vram_gb;
      freeRam += c.available_ram_gb;
      freeVram += c.available_vram_gb;
      if (c.avg_price_per_gb_sec != null && c.total_nodes > 0) {
        priceWeighted += c.avg_price_per_gb_sec * c.total_nodes;
        priceWeight += c.total_nodes;
      }
    }
    $("fig-nodes").textContent = fmtInt(nodes);
    $("fig-regions").textContent = fmtInt(clusters.length);
    $("fig-offered").textContent = fmtGB(ram + vram);
    $("fig-rented").textContent = fmtGB(Math.max(0, ram + vram - freeRam - freeVram));
    const avg = priceWeight ? priceWeighted / priceWeight : null;
    $("fig-price").textContent = avg == null ? "—" : fmtPricePerSec(avg);
    $("fig-price-hour").textContent = avg == null ? "" : `${fmtPricePerHour(avg)}`;
    $("live-state").textContent = "live";
    $("live-state").classList.add("on");
    $("live-note").textContent = clusters.length ? "" : "No nodes are online yet. Providers: register one from the Provider page.";
    showComparison(avg ?? EXAMPLE_PRICE_PER_GB_SEC, avg != null);
  } catch (e) {
    $("live-state").textContent = "unavailable";
    $("live-note").textContent =
      e instanceof ApiError && e.status === 401
        ? "Sign in to see live network figures."
        : `Live figures are unavailable: ${errorMessage(e)}`;
    showComparison(EXAMPLE_PRICE_PER_GB_SEC, false);
  }
}
load();
setInterval(load, 30_000);
