/** The OpenAPI document's description: the decisions a client needs that field lists cannot say. */
export const OPENAPI_DESCRIPTION = `
Mnemo rents idle RAM and VRAM by the GB-second. Providers run \`mnemo-agent\`; renters search, match,
reserve, use and pay from a prepaid balance.

## Authentication
\`Authorization: Bearer <access_token>\` (a 24 h HS256 JWT from /api/auth/login or /api/auth/register) or
\`X-API-Key: <key>\` (long-lived, shown once at creation, stored only as a SHA-256 digest; acts as its
creator). Roles: \`user\` (renter), \`provider\`, \`admin\` (only through the server's ADMIN_EMAILS).
Admins pass every role check. A resource the caller may not see answers 404, one they may see but not
change answers 403.

## Errors
Every non-2xx response is \`{ "error": { "code", "message", "details"? } }\`; \`details\` lists one
\`{ field, message }\` per invalid field. Codes: validation_failed 400, unauthenticated 401,
insufficient_funds 402, budget_exceeded 402, forbidden 403, not_found 404, conflict 409,
insufficient_capacity 409, rate_limited 429 (with Retry-After), payments_unavailable 503,
misconfigured 500.

## Money
Amounts are USD with at most 6 decimals, prices USD per GB-second with at most 9; a value with more
precision is refused (400), never rounded silently. Internally every amount is an integer (micro-USD,
nano-USD per GB-second). Rounding: a contract's cost is GB × billed seconds × price computed exactly
and rounded **up** to the next micro-USD; the platform fee is cost × PLATFORM_FEE_PERCENT / 100
rounded half-up to the micro-USD, and the provider earns cost − fee, so the two always add up to the
cost. Egress is GB (≤ 6 decimals) × the offer's egress price, rounded up to the micro-USD.

## Billing
Time is billed per started second, at least the offer's min_duration_sec, from start_time (when the
node acknowledged the contract) to the settle, the end of the term or the failure, and never more than
the term that was bought. Nothing is charged while a contract is pending.

## Leases (the data plane)
A node's agent serves every lease it holds on one endpoint (\`host:port\`, the Redis protocol). The
endpoint is sent at registration, in updates and in every heartbeat, and is shown only to the node's
owner and admins. The worker never connects to it; it only hands it to the renter in
\`GET /api/contracts/{id}/lease\` as \`url\` = \`redis://<contract id>:<lease token>@<endpoint>/0\`
(\`redis-cli -u '<url>' PING\`). \`tls\` is false until TLS lands.

Delivery: the agent holds \`GET /ws/nodes/{node_id}\`, a WebSocket authenticated with the owner's API key
in the \`X-API-Key\` header (never in the URL; 401 before the upgrade, 403 for another provider's node,
410 for a retired one). Each message is \`{"type":"contracts","data":{"contracts":[{id, ram_gb, vram_gb,
end_time, status}]}}\`: the full list of pending and active contracts the node must hold (\`end_time\`
null while pending), sent when the socket opens and after every change of one of them (create, ready,
extend, renewal, settle, expiry, cancel, failover, reject, ready timeout, retirement). Lists for one
node are read and sent one at a time, so the last one an agent receives is never older than the last
change; the heartbeat response carries the same list as the fallback. \`{"type":"ping"}\` comes about
once a minute (a socket silent for much longer is dead: reconnect); other unknown types are to be
ignored.

Activation: \`pending\` → \`active\` only by \`POST /api/nodes/{id}/contracts/{contract_id}/ready\`, once
the node has published its endpoint; the term and billing start then. \`…/reject\`, and a node that
has not made a contract ready within LEASE_READY_TIMEOUT_SEC (default 60; the region's alarm sweeps
for them), fail the contract over: ended \`failed\`, never charged (hold released, capacity freed),
moved to the best other node in the region where one can hold it.

Reports: every heartbeat carries \`lease_reports\`, the counters of each open lease; when a lease
ends the node sends its receipt (\`final: true\`, the keyspace digest and when it was wiped). The latest
counters are kept per contract until the receipt freezes them; contracts show \`lease_receipt\` and
\`measured_egress_gb\` (bytes_out / 2^30; once settled, the figure billed). Settlement bills the
measured bytes_out at the offer's egress price (rounded up to the micro-USD), never more bytes than the
node's declared bandwidth could carry over the time held; it waits for the
receipt up to LEASE_REPORT_WAIT_SEC (default 120) after the end with a delayed queue retry (a receipt
that arrives sooner settles the contract at once), then uses the last counters, and uses the renter's
\`actual_egress_gb\` only where the node reported nothing. A contract that fails over is settled at
once with the counters reported so far.
`.trim();
