import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, runCli, tempConfig } from "./helpers.ts";

describe("mnemo-agent CLI (no server needed)", () => {
  it("--help lists the commands, and every command has its own help", async () => {
    const main = await runCli(["--help"]);
    expect(main.code).toBe(0);
    for (const cmd of ["init", "start", "status"]) expect(main.stdout).toContain(`mnemo-agent ${cmd}`);
    expect(main.stdout).toContain("MNEMO_API_KEY");
    for (const cmd of ["init", "start", "status"]) {
      const viaFlag = await runCli([cmd, "--help"]);
      expect(viaFlag.code).toBe(0);
      expect(viaFlag.stdout).toMatch(new RegExp(`^mnemo-agent ${cmd}`));
      expect((await runCli(["help", cmd])).stdout).toBe(viaFlag.stdout);
    }
    expect((await runCli(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("unknown commands and flags fail with one line and exit 2", async () => {
    const a = await runCli(["frobnicate"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toBe('mnemo-agent: Unknown command "frobnicate". Commands: init, start, status (mnemo-agent --help).\n');
    const b = await runCli(["start", "--bogus"]);
    expect(b.code).toBe(2);
    expect(b.stderr.trim().split("\n")).toHaveLength(1);
    expect(b.stderr).toContain("--bogus");
    // Names every object has (toString, constructor) are no commands and have no help.
    for (const args of [["toString"], ["help", "toString"], ["help", "constructor"]]) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toBe(
        `mnemo-agent: Unknown command "${args.at(-1)}". Commands: init, start, status${args.length === 1 ? " (mnemo-agent --help)" : ""}.\n`,
      );
    }
  });

  it("a bad config names the wrong field, without a stack trace", async () => {
    const path = tempConfig({ api_url: "http://127.0.0.1:1", api_key: "k", region: "eu-west", node_type: "laptop" });
    const r = await runCli(["start", "--config", path]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/^mnemo-agent: Invalid config in .*"node_type"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const missing = await runCli(["start", "--config", "/nonexistent/agent.json"]);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain("No config file at /nonexistent/agent.json");
  });

  it("init without a terminal takes flags only and names the missing ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mnemo-init-"));
    const path = join(dir, "agent.json");
    const r = await runCli(["init", "--config", path, "--region", "eu-west"]);
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(
      "mnemo-agent: Missing --api-url, --api-key: stdin is not a terminal, so init takes flags only (see mnemo-agent init --help).\n",
    );
    expect(existsSync(path)).toBe(false);
  });

  it("init writes a valid config from flags (mode 0600), refuses to overwrite, and keeps node_id with --force", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mnemo-init-"));
    const path = join(dir, "agent.json");
    const flags = [
      "--api-url",
      "http://127.0.0.1:8787",
      "--api-key",
      "mk_abc",
      "--region",
      "eu-west",
      "--name",
      "desk",
      "--idle-schedule",
      "9am-5pm, 11pm-7am",
      "--reserve",
      "6",
      "--latitude",
      "48.85",
      "--longitude",
      "2.35",
      "--price",
      "0.000001",
    ];
    const r = await runCli(["init", "--config", path, ...flags]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Wrote ${path}`);
    expect(r.stdout).toContain(`mnemo-agent start --config ${path}`);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      api_url: "http://127.0.0.1:8787",
      api_key: "mk_abc",
      name: "desk",
      region: "eu-west",
      latitude: 48.85,
      longitude: 2.35,
      price_per_gb_sec: 0.000001,
      idle_schedule: "9am-5pm, 11pm-7am",
      reserve_ram_gb: 6,
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const again = await runCli(["init", "--config", path, ...flags]);
    expect(again.code).toBe(78);
    expect(again.stderr).toContain("already exists; pass --force");

    const withNode = JSON.parse(readFileSync(path, "utf8"));
    withNode.node_id = "1b4e28ba-2fa1-4d2e-9c3b-1b4e28ba2fa1";
    (await import("node:fs")).writeFileSync(path, JSON.stringify(withNode));
    const forced = await runCli(["init", "--config", path, ...flags, "--force", "--name", "desk2"]);
    expect(forced.code).toBe(0);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ name: "desk2", node_id: "1b4e28ba-2fa1-4d2e-9c3b-1b4e28ba2fa1" });
  });

  it("init validates flag values and names the field", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mnemo-init-"));
    // A complete init but for one flag's value.
    const init = (file: string, ...flag: string[]) =>
      runCli(["init", "--config", join(dir, file), "--api-url", "http://x", "--api-key", "k", "--region", "eu-west", ...flag]);
    const r = await init("a.json", "--idle-schedule", "sometimes");
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/Not writing .*"idle_schedule" "sometimes"/);
    const n = await init("b.json", "--reserve", "lots");
    expect(n.code).toBe(78);
    expect(n.stderr).toContain('--reserve must be a number, got "lots"');
  });
});

describe("mnemo-agent init at a terminal", () => {
  // `script` gives the agent a pseudo-terminal, so init asks its questions as it would a person.
  const hasScript = (() => {
    try {
      execFileSync("script", ["-qc", "true", "/dev/null"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasScript)("asks for what flags leave out, re-asks wrong answers, and writes the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mnemo-init-tty-"));
    const path = join(dir, "agent.json");
    const child = spawn(
      "script",
      [
        "-qc",
        `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} init --config ${JSON.stringify(path)} --api-url http://127.0.0.1:8787 --name desk`,
        "/dev/null",
      ],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    const answers: Array<[RegExp, string]> = [
      [/API key.*: /, "mk_from_prompt"],
      [/Node type.*: /, "laptop"],
      [/node_type Invalid option[\s\S]*Node type.*: /, ""],
      [/Region.*: /, "eu-west"],
      [/Latitude.*: /, ""],
      [/Longitude.*: /, ""],
      [/Price.*: /, ""],
      [/Idle schedule.*: /, "9-5"],
      [/needs am\/pm[\s\S]*Idle schedule.*: /, "11pm-7am"],
      [/RAM kept.*: /, "8"],
      [/Bandwidth.*: /, ""],
      [/Base latency.*: /, ""],
      [/Heartbeat interval.*: /, ""],
    ];
    let seen = 0;
    for (const [prompt, answer] of answers) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const rest = out.slice(seen);
        const m = prompt.exec(rest);
        if (m) {
          seen += m.index + m[0].length;
          break;
        }
        if (Date.now() > deadline) throw new Error(`no prompt ${prompt} in:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      child.stdin.write(`${answer}\r`);
    }
    expect(await exited).toBe(0);
    expect(out).toContain(`Wrote ${path}`);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({
      api_url: "http://127.0.0.1:8787",
      api_key: "mk_from_prompt",
      name: "desk",
      node_type: "mist_node",
      region: "eu-west",
      idle_schedule: "11pm-7am",
      reserve_ram_gb: 8,
    });
  });
});
