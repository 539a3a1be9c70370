import type { TestProject } from "vitest/node";
import { startEthServer, startStripeServer } from "./stripe-server";

// Node-side servers the worker tests talk to over loopback (a Stripe-compatible API, an Ethereum
// JSON-RPC node). Their ports were chosen when vitest.config.ts loaded, because the worker's
// bindings (STRIPE_API_BASE, ETH_RPC_URL) are fixed before this runs.
export default async function setup(_project: TestProject) {
  const stripePort = Number(process.env.MNEMO_TEST_STRIPE_PORT);
  const ethPort = Number(process.env.MNEMO_TEST_ETH_PORT);
  if (!stripePort || !ethPort) throw new Error("vitest.config.ts did not choose the fake servers' ports");
  const servers = [await startStripeServer(stripePort), await startEthServer(ethPort)];
  return async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  };
}
