import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyEnv, ConfigError, defaultEndpointHost, loadConfig, resolveConfigPath, saveNodeId, validateConfig } from "../src/config.ts";

const base = { api_url: "http://127.0.0.1:8787", api_key: "mk_test", region: "eu-west" };

function tempFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "mnemo-agent-config-"));
  const path = join(dir, "agent.json");
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("config", () => {
  it("applies the defaults of the original design", () => {
    const c = validateConfig(base, "test");
    expect(c).toMatchObject({ node_type: "mist_node", idle_schedule: "always", reserve_vram_gb: 0, price_per_gb_sec: 0.0000008 });
    expect(c.name.length).toBeGreaterThan(0);
    expect(c.reserve_ram_gb).toBeUndefined(); // computed from total RAM at start
  });

  it.each([
    [{ api_url: "not a url" }, /"api_url" must be an http\(s\) URL/],
    [{ node_type: "laptop" }, /"node_type"/],
    [{ region: "EU West" }, /"region" must be lowercase/],
    [{ price_per_gb_sec: -1 }, /"price_per_gb_sec"/],
    [{ price_per_gb_sec: 0.00000000001 }, /"price_per_gb_sec" has more than 9 decimal places/],
    [{ idle_schedule: "9-5" }, /"idle_schedule" "9" in "9-5" needs am\/pm/],
    [{ heartbeat_interval: 0 }, /"heartbeat_interval"/],
    [{ reserve_ram_gb: -2 }, /"reserve_ram_gb"/],
    [{ latitude: 200, longitude: 0 }, /"latitude"/],
    [{ latitude: 48.1 }, /"latitude" and longitude go together/],
    [{ node_id: "nope" }, /"node_id"/],
    [{ colour: "red" }, /unknown field "colour"/],
    [{ endpoint_port: 70000 }, /"endpoint_port"/],
    [{ endpoint_port: -1 }, /"endpoint_port"/],
    [{ endpoint_port: 7379.5 }, /"endpoint_port"/],
    [{ endpoint_bind: "localhost" }, /"endpoint_bind" must be an IP address/],
    [{ endpoint_host: "bad host:80" }, /"endpoint_host" must be a host name/],
    [{ endpoint_host: "::1" }, /"endpoint_host" must be a host name, an IPv4 address or a bracketed IPv6/],
    [{ simulate_vram_gb: -1 }, /"simulate_vram_gb"/],
    [{ simulate_ram_gb: 1.5 }, /"simulate_ram_gb"/],
  ])("names the wrong field: %j", (patch, message) => {
    expect(() => validateConfig({ ...base, ...patch }, "agent.json")).toThrow(ConfigError);
    expect(() => validateConfig({ ...base, ...patch }, "agent.json")).toThrow(message);
  });

  it("lease endpoint defaults: port 7379 on every interface, advertised on the first non-internal IPv4", () => {
    const c = validateConfig(base, "test");
    expect(c).toMatchObject({ endpoint_port: 7379, endpoint_bind: "0.0.0.0" });
    expect(c.endpoint_host).toBeUndefined(); // resolved at start from the interfaces
    expect(validateConfig({ ...base, endpoint_port: 0, endpoint_bind: "::", endpoint_host: "[::1]" }, "t")).toMatchObject({
      endpoint_port: 0,
      endpoint_bind: "::",
      endpoint_host: "[::1]",
    });
    expect(validateConfig({ ...base, endpoint_host: "node-7.example.com" }, "t").endpoint_host).toBe("node-7.example.com");
    const lo = {
      address: "127.0.0.1",
      family: "IPv4",
      internal: true,
      netmask: "255.0.0.0",
      mac: "00:00:00:00:00:00",
      cidr: "127.0.0.1/8",
    } as const;
    const v6 = {
      address: "fe80::1",
      family: "IPv6",
      internal: false,
      netmask: "ffff:ffff:ffff:ffff::",
      mac: "02:00:00:00:00:01",
      cidr: "fe80::1/64",
      scopeid: 2,
    } as const;
    const lan = {
      address: "192.168.1.20",
      family: "IPv4",
      internal: false,
      netmask: "255.255.255.0",
      mac: "02:00:00:00:00:01",
      cidr: "192.168.1.20/24",
    } as const;
    expect(defaultEndpointHost({ lo: [lo], eth0: [v6, lan] })).toBe("192.168.1.20");
    expect(defaultEndpointHost({ lo: [lo], eth0: [v6] })).toBe("127.0.0.1");
  });

  it("says which required field is missing", () => {
    expect(() => validateConfig({ api_url: base.api_url }, "f.json")).toThrow(/"api_key" is missing; "region" is missing/);
  });

  it("MNEMO_API_URL and MNEMO_API_KEY override the file", () => {
    const path = tempFile(base);
    const c = loadConfig(path, { MNEMO_API_URL: "https://api.mnemo.example/", MNEMO_API_KEY: "mk_env" });
    expect(c.api_url).toBe("https://api.mnemo.example");
    expect(c.api_key).toBe("mk_env");
    expect(applyEnv({ api_key: "file" }, {})).toEqual({ api_key: "file" });
    // The key may live only in the environment.
    const keyless = tempFile({ api_url: base.api_url, region: "eu-west" });
    expect(loadConfig(keyless, { MNEMO_API_KEY: "mk_env" }).api_key).toBe("mk_env");
  });

  it("explains a missing file and broken JSON", () => {
    expect(() => loadConfig("/nonexistent/agent.json", {})).toThrow(/No config file at \/nonexistent\/agent.json.*mnemo-agent init/);
    expect(() => loadConfig(tempFile("{ nope"), {})).toThrow(/is not valid JSON/);
    expect(() => loadConfig(tempFile("[1]"), {})).toThrow(/must contain a JSON object/);
  });

  it("saves node_id into the file as written, never copying an env key into it", () => {
    const path = tempFile({ api_url: base.api_url, region: "eu-west" });
    saveNodeId(path, "1b4e28ba-2fa1-4d2e-9c3b-1b4e28ba2fa1");
    const saved = JSON.parse(readFileSync(path, "utf8"));
    expect(saved).toEqual({ api_url: base.api_url, region: "eu-west", node_id: "1b4e28ba-2fa1-4d2e-9c3b-1b4e28ba2fa1" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("resolves the path: flag, then MNEMO_AGENT_CONFIG, then the per-user file", () => {
    expect(resolveConfigPath("/a/b.json", {})).toBe("/a/b.json");
    expect(resolveConfigPath(undefined, { MNEMO_AGENT_CONFIG: "/c/d.json" })).toBe("/c/d.json");
    expect(resolveConfigPath(undefined, { XDG_CONFIG_HOME: "/xdg" })).toMatch(/(\.mnemo-agent\.json|\/xdg\/mnemo\/agent\.json)$/);
  });
});
