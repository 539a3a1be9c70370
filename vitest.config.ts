import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url)));

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
