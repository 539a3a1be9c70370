import { applyD1Migrations, env } from "cloudflare:test";

// The same SQL migrations wrangler applies, on the test's D1 (idempotent: applied ones are skipped).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
