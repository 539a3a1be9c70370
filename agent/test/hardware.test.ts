import { execFileSync } from "node:child_process";
import si from "systeminformation";
import { describe, expect, it } from "vitest";
import { Hardware, summariseGpus } from "../src/hardware.ts";

function hasNvidiaSmi(): boolean {
  try {
    execFileSync("nvidia-smi", ["-L"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("hardware (real systeminformation)", () => {
  it("reads sane memory figures from this machine", async () => {
    const s = await new Hardware().sample();
    const mem = await si.mem();
    expect(s.totalRamGb).toBeGreaterThan(0);
    expect(s.totalRamGb).toBeCloseTo(mem.total / 1024 ** 3, 3);
    expect(s.availableRamGb).toBeGreaterThan(0);
    expect(s.availableRamGb).toBeLessThanOrEqual(s.totalRamGb);
    expect(s.vramTotalGb).toBeGreaterThanOrEqual(0);
    expect(s.vramFreeGb).toBeGreaterThanOrEqual(0);
    expect(s.vramFreeGb).toBeLessThanOrEqual(s.vramTotalGb + 1e-9);
    expect(typeof s.gpuModel).toBe("string");
    expect(s.gpuModel.length).toBeGreaterThan(0);
    if (s.cpuUsagePct !== null) {
      expect(s.cpuUsagePct).toBeGreaterThanOrEqual(0);
      expect(s.cpuUsagePct).toBeLessThanOrEqual(100);
    }
  });

  it('agrees with the graphics controllers: "No GPU" and 0 VRAM when none has memory', async () => {
    const g = await si.graphics();
    const s = await new Hardware().sample();
    const withVram = g.controllers.filter((c) => !c.vramDynamic && ((c.memoryTotal ?? c.vram ?? 0) as number) > 0);
    if (withVram.length === 0) {
      expect(s.gpuModel).toBe("No GPU");
      expect(s.vramTotalGb).toBe(0);
      expect(s.vramFreeGb).toBe(0);
      expect(s.gpuUsagePct).toBeNull();
    } else {
      expect(s.gpuModel).not.toBe("No GPU");
      expect(s.vramTotalGb).toBeGreaterThan(0);
      if (hasNvidiaSmi()) expect(s.gpuUsagePct).not.toBeNull();
    }
  });

  it("summarises controllers: dedicated VRAM counts, shared memory of integrated GPUs does not", () => {
    expect(summariseGpus([])).toEqual({ model: "No GPU", vramTotalGb: 0, nvidia: false });
    expect(summariseGpus([{ model: "Intel UHD", vendor: "Intel", vram: 128, vramDynamic: true }])).toEqual({
      model: "No GPU",
      vramTotalGb: 0,
      nvidia: false,
    });
    expect(summariseGpus([{ model: "VirtIO", vram: null }])).toMatchObject({ model: "No GPU", vramTotalGb: 0 });
    expect(summariseGpus([{ model: "GeForce RTX 4090", vendor: "NVIDIA Corporation", vram: 24564, memoryTotal: 24564 }])).toEqual({
      model: "GeForce RTX 4090",
      vramTotalGb: 24564 / 1024,
      nvidia: true,
    });
    expect(
      summariseGpus([
        { model: "A100", vendor: "NVIDIA", memoryTotal: 40960 },
        { model: "A100", vendor: "NVIDIA", memoryTotal: 40960 },
      ]),
    ).toEqual({ model: "2× A100", vramTotalGb: 80, nvidia: true });
    expect(summariseGpus([{ model: "Radeon RX 7900", vendor: "AMD", vram: 20480 }]).nvidia).toBe(false);
  });
});
