import { defineConfig } from "drizzle-kit";

// Migrations are generated here and applied by wrangler (locally, remotely, and in tests).
export default defineConfig({
  dialect: "sqlite",
  schema: "./worker/src/db/schema.ts",
  out: "./migrations",
});
