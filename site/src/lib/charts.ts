// Chart.js with only the pieces the dashboards draw, so the bundle stays small.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.color = "#5b6478";
Chart.defaults.borderColor = "#e6eaf2";
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.animation = matchMedia("(prefers-reduced-motion: reduce)").matches ? false : { duration: 400 };

export const PALETTE = ["#3f4fd8", "#0e9384", "#d97706", "#a23ec9", "#dc4c64", "#2a9d48", "#5b6478"];

const charts = new WeakMap<HTMLCanvasElement, Chart>();

/** Draws (or redraws) a chart on a canvas; the canvas keeps a text fallback for screen readers. */
export function drawChart(canvas: HTMLCanvasElement, config: ChartConfiguration, summary: string): Chart {
  charts.get(canvas)?.destroy();
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", summary);
  canvas.textContent = summary;
  const chart = new Chart(canvas, config);
  charts.set(canvas, chart);
  return chart;
}

export function shortTime(t: string | number): string {
  const d = new Date(typeof t === "number" && t < 1e12 ? t * 1000 : t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toLocaleString("en-US", { month: "short", day: "numeric", hour: d.getHours() || d.getMinutes() ? "numeric" : undefined });
}
