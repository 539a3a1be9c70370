// Types the `env` of `cloudflare:test` as the worker's Env plus the test-only bindings.
declare namespace Cloudflare {
  interface Env extends WorkerEnv {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}
type WorkerEnv = import("../src/env").Env;
