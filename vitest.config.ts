import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url)));

/** A free loopback port, chosen now: the worker's bindings must name the fake servers' URLs. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
// worker/test/global-setup.ts starts the fake Stripe and Ethereum servers on these ports.
process.env.MNEMO_TEST_STRIPE_PORT ??= String(await freePort());
process.env.MNEMO_TEST_ETH_PORT ??= String(await freePort());

export default defineConfig({
  test: {
    projects: [
      {
        // The worker, its Durable Objects and its queue consumer, inside workerd on real D1.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                JWT_SECRET: "test-secret-for-vitest-only-0123456789abcdef",
                ADMIN_EMAILS: "admin@test.mnemo",
                HEARTBEAT_MIN_INTERVAL_SEC: "30",
                NODE_OFFLINE_AFTER_SEC: "180",
                // Settlement goes at once here; settlement/lease-egress.test.ts drives the wait for
                // the node's final lease receipt (LEASE_REPORT_WAIT_SEC) explicitly.
                LEASE_REPORT_WAIT_SEC: "0",
                STRIPE_API_BASE: `http://127.0.0.1:${process.env.MNEMO_TEST_STRIPE_PORT}`,
                STRIPE_SECRET_KEY: "sk_test_mnemo_fake_0123456789",
                STRIPE_WEBHOOK_SECRET: "whsec_test_mnemo_0123456789",
                ETH_RPC_URL: `http://127.0.0.1:${process.env.MNEMO_TEST_ETH_PORT}`,
                PLATFORM_ETH_ADDRESS: "0x00000000000000000000000000000000006d6e6f",
                USDC_CONTRACT_ADDRESS: "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
                ETH_MIN_CONFIRMATIONS: "12",
                MIN_PAYOUT_USD: "10",
              },
            },
          }),
        ],
        test: {
          name: "worker",
          include: ["worker/src/**/*.test.ts"],
          setupFiles: ["./worker/test/apply-migrations.ts"],
          globalSetup: ["./worker/test/global-setup.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // Node-side suites: the agent CLI and the browser tests, each against a real `wrangler dev`.
        test: {
          name: "node",
          environment: "node",
          include: ["agent/test/**/*.test.ts", "site/tests/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
