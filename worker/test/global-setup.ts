import type { TestProject } from "vitest/node";

// Node-side servers the worker tests talk to over loopback (a Stripe-compatible API, an Ethereum
// JSON-RPC node) are started here and their URLs handed to the tests with `inject`.
export default async function setup(_project: TestProject) {
  return async () => {};
}
