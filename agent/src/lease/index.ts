// The lease server: every lease this node holds, served as a Redis-protocol endpoint.
// The interface below is fixed by /work/wt/CONTRACT-dataplane.md; keep its names and shapes.
export { LeaseServer, LIMITS } from "./server.ts";
export type { LeaseSpec, LeaseCounters, LeaseReceipt, LeaseServerOptions } from "./server.ts";
export { KEY_OVERHEAD, FIELD_OVERHEAD } from "./store.ts";
