/**
 * This machine's memory and load, through systeminformation. GPU discovery (lspci and friends) is
 * slow, so the controllers are read once; after that only nvidia-smi is asked for the changing
 * figures (free VRAM, utilisation, temperature), and only where an NVIDIA GPU was found.
 */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import type { Systeminformation } from "systeminformation";

// Only the three systeminformation modules the agent uses: its index loads all twenty-odd (USB,
// Wi-Fi, Docker, printers...), which a long-running agent would carry in memory for nothing.
const require = createRequire(import.meta.url);
const si = {
  mem: (): Promise<Systeminformation.MemData> => require("systeminformation/lib/memory.js").mem(),
  graphics: (): Promise<Systeminformation.GraphicsData> => require("systeminformation/lib/graphics.js").graphics(),
  currentLoad: (): Promise<Systeminformation.CurrentLoadData> => require("systeminformation/lib/cpu.js").currentLoad(),
};

const GIB = 1024 ** 3;
const MIB_PER_GIB = 1024;

export interface GpuInfo {
  /** "No GPU" when no controller has dedicated memory. */
  model: string;
  vramTotalGb: number;
  nvidia: boolean;
}

export interface HardwareSample {
  totalRamGb: number;
  availableRamGb: number;
  vramTotalGb: number;
  vramFreeGb: number;
  gpuModel: string;
  cpuUsagePct: number | null;
  gpuUsagePct: number | null;
  temperatureC: number | null;
}

interface ControllerLike {
  model?: string;
  vendor?: string;
  vram?: number | null;
  vramDynamic?: boolean;
  memoryTotal?: number;
  memoryFree?: number;
  utilizationGpu?: number;
  temperatureGpu?: number;
}

/** Dedicated VRAM of one controller in MiB; shared (dynamic) memory of integrated GPUs is the owner's RAM, not VRAM. */
function dedicatedVramMib(c: ControllerLike): number {
  if (c.vramDynamic) return 0;
  const mib = c.memoryTotal ?? c.vram ?? 0;
  return Number.isFinite(mib) && mib > 0 ? mib : 0;
}

export function summariseGpus(controllers: ControllerLike[]): GpuInfo {
  const withVram = controllers.filter((c) => dedicatedVramMib(c) > 0);
  if (withVram.length === 0) return { model: "No GPU", vramTotalGb: 0, nvidia: false };
  const mib = withVram.reduce((s, c) => s + dedicatedVramMib(c), 0);
  const models = [...new Set(withVram.map((c) => (c.model ?? "").trim() || "Unknown GPU"))];
  return {
    model: withVram.length > 1 && models.length === 1 ? `${withVram.length}× ${models[0]}` : models.join(" + "),
    vramTotalGb: mib / MIB_PER_GIB,
    nvidia: withVram.some((c) => /nvidia/i.test(`${c.vendor ?? ""} ${c.model ?? ""}`)),
  };
}

interface NvidiaReading {
  freeMib: number;
  totalMib: number;
  utilPct: number | null;
  tempC: number | null;
}

function readNvidiaSmi(): Promise<NvidiaReading[] | null> {
  return new Promise((resolve) => {
    execFile(
      "nvidia-smi",
      ["--query-gpu=memory.total,memory.free,utilization.gpu,temperature.gpu", "--format=csv,noheader,nounits"],
      { timeout: 5000 },
      (err, stdout) => {
        if (err) return resolve(null);
        const rows = stdout
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((line) => {
            const [total, free, util, temp] = line.split(",").map((v) => Number(v.trim()));
            return {
              totalMib: total,
              freeMib: free,
              utilPct: Number.isFinite(util) ? util : null,
              tempC: Number.isFinite(temp) ? temp : null,
            };
          });
        resolve(rows.length ? rows : null);
      },
    );
  });
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

export class Hardware {
  private gpu: GpuInfo | null = null;

  /** Reads the graphics controllers once (cached): total VRAM and the GPU model. */
  async gpuInfo(): Promise<GpuInfo> {
    if (!this.gpu) {
      try {
        const g = await si.graphics();
        this.gpu = summariseGpus(g.controllers as ControllerLike[]);
      } catch {
        this.gpu = { model: "No GPU", vramTotalGb: 0, nvidia: false };
      }
    }
    return this.gpu;
  }

  async sample(): Promise<HardwareSample> {
    const [mem, gpu, load] = await Promise.all([si.mem(), this.gpuInfo(), si.currentLoad().catch(() => null)]);
    let vramFreeGb = gpu.vramTotalGb;
    let vramTotalGb = gpu.vramTotalGb;
    let gpuUsagePct: number | null = null;
    let temperatureC: number | null = null;
    if (gpu.nvidia) {
      const rows = await readNvidiaSmi();
      if (rows) {
        vramTotalGb = rows.reduce((s, r) => s + (r.totalMib || 0), 0) / MIB_PER_GIB;
        vramFreeGb = rows.reduce((s, r) => s + (r.freeMib || 0), 0) / MIB_PER_GIB;
        const utils = rows.map((r) => r.utilPct).filter((v): v is number => v !== null);
        const temps = rows.map((r) => r.tempC).filter((v): v is number => v !== null);
        gpuUsagePct = utils.length ? round1(utils.reduce((a, b) => a + b, 0) / utils.length) : null;
        temperatureC = temps.length ? Math.max(...temps) : null;
      }
    }
    return {
      totalRamGb: mem.total / GIB,
      // "available" (MemAvailable) counts reclaimable page cache: what programs can really get.
      availableRamGb: (mem.available || mem.free) / GIB,
      vramTotalGb,
      vramFreeGb,
      gpuModel: gpu.model,
      cpuUsagePct: load && Number.isFinite(load.currentLoad) ? round1(load.currentLoad) : null,
      gpuUsagePct,
      temperatureC,
    };
  }
}
