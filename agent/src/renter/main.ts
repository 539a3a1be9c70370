/**
 * `mnemo`: the renter's command line. Exit codes: 0 ok, 1 the API refused (its message from the
 * error envelope) or the outcome failed, 2 usage errors. Only a bug shows a stack trace.
 */
import { ApiError, NetworkError } from "../client/index.ts";
import { type Command, type CommandLine, dispatch, printHelp } from "../command-line.ts";
import { VERSION } from "../version.ts";
import * as auth from "./auth.ts";
import * as billing from "./billing.ts";
import { makeCtx, NotLoggedIn } from "./context.ts";
import * as contracts from "./contracts.ts";
import * as market from "./market.ts";
import { fieldsHelp } from "./query.ts";
import { err, parse, UsageError } from "./util.ts";

const GLOBAL_HELP = `Global flags (every command):
      --api-url <url>   the Mnemo API (else $MNEMO_API_URL, else the logged-in session's, else http://127.0.0.1:8787)
      --json            machine output: JSON on stdout, nothing else there
      --explain         print each HTTP request (method, URL, body) to stderr; never the token or password
  -h, --help            this help`;

const MAIN_HELP = `mnemo ${VERSION}: rent RAM and VRAM by the GB-second on Mnemo, from the shell.

Usage:
  mnemo login [--email E] [--password-stdin]     log in (session in $XDG_CONFIG_HOME/mnemo/, mode 0600)
  mnemo logout
  mnemo whoami
  mnemo offers search [QUERY] [-o FIELD[-]] [--limit N]
  mnemo match [QUERY] --ram N [--vram N] --duration 1h
  mnemo rent [QUERY] --ram N [--vram N] --duration 10m [--auto-renew]
  mnemo contracts list|show ID|extend ID --by 10m|settle ID|cancel ID|watch ID
  mnemo lease ID [--url]
  mnemo balance
  mnemo topup --amount USD --payment-method pm_...
  mnemo ledger
  mnemo help <command>

${GLOBAL_HELP}

Environment:
  MNEMO_API_URL   the API;   MNEMO_TOKEN   an access token (overrides the stored session)

Quick start:
  mnemo login --api-url https://mnemo.example.com
  mnemo rent 'region=eu-west' --ram 4 --duration 1h
  redis-cli -u "$(mnemo lease <contract id> --url)" PING
`;

const QUERY_HELP = `QUERY: space-separated terms \`field op value\` (quote the whole query in the shell), ops = != < <= > >=
${fieldsHelp()}
Each term is sent to the API where it has that filter, else applied here; both are listed on stderr
(and under "filters" with --json). An unknown field or a bad value exits 2 naming it.`;

const HELP: Record<string, string> = {
  login: `mnemo login [--email E] [--password-stdin] [--api-url URL]

Logs in and stores the session (an access token valid 24 h) in $XDG_CONFIG_HOME/mnemo/session.json
(default ~/.config/mnemo/), the file mode 0600 and the directory 0700. At a terminal it asks for what
flags leave out, without echoing the password. In scripts, pass the password on standard input.

Examples:
  mnemo login --api-url https://mnemo.example.com
  printf '%s' "$MNEMO_PASSWORD" | mnemo login --email me@example.com --password-stdin

${GLOBAL_HELP}
`,
  logout: `mnemo logout

Removes the stored session. (MNEMO_TOKEN, if set, still applies.)

${GLOBAL_HELP}
`,
  whoami: `mnemo whoami

Shows who the API thinks you are, your client id, the API and where the token came from.

Example:
  mnemo whoami --json | jq -r .client.id

${GLOBAL_HELP}
`,
  offers: `mnemo offers search [QUERY] [-o FIELD[-]] [--limit N] [--lat DEG --lng DEG]

Lists the marketplace's offers: nodes with free memory now.

${QUERY_HELP}

  -o FIELD[-]       sort by a field (append - for descending), e.g. -o price, -o ram_gb-
      --limit N     at most N rows (default 20, max 500)
      --lat, --lng  your location, for distance (else your profile's); a negative value as --lng=-74.0

Examples:
  mnemo offers search 'ram_gb>=32 price<=0.000002 region=us-east-2' -o price
  mnemo offers search 'type=mist_node uptime>=95 distance<=100' --lat 40.7 --lng=-74.0
  mnemo offers search --json | jq '.offers[].node_id'

${GLOBAL_HELP}
`,
  match: `mnemo match [QUERY] --ram N [--vram N] --duration D [--limit N] [-o FIELD[-]]

Asks the marketplace to score the nodes that can hold the request (the reference matching formula)
and shows each match's score and its breakdown: proximity, price, reliability, capacity, node type.
Durations: 90s, 10m, 2h, 1d.

${QUERY_HELP}

Examples:
  mnemo match --ram 8 --duration 1h
  mnemo match 'region=eu-west price<=0.000001' --ram 16 --vram 8 --duration 2h -o cost

${GLOBAL_HELP}
`,
  rent: `mnemo rent [QUERY] --ram N [--vram N] --duration D [--auto-renew] [--wait D]

Renting memory in one command: matches, reserves the best node (on a lost race for capacity, the
next best), waits until the node serves the lease (progress on stderr), and prints the lease's
redis:// URL on stdout. A contract the node has not started within --wait (default 3m) is
cancelled, so no hold is left behind.

${QUERY_HELP}

Examples:
  mnemo rent --ram 4 --duration 10m
  URL=$(mnemo rent 'region=eu-west uptime>=95' --ram 16 --duration 2h --auto-renew)
  redis-cli -u "$URL" PING

${GLOBAL_HELP}
`,
  contracts: `mnemo contracts list [--status S] [--limit N] [--offset N]
mnemo contracts show ID
mnemo contracts extend ID --by D
mnemo contracts settle ID
mnemo contracts cancel ID
mnemo contracts watch ID [--interval D] [--timeout D]

list: your contracts (status pending|active|completed|failed|cancelled). show: one contract.
extend: a longer term (holds the added cost). settle: end it now; you pay for the time held.
cancel: a contract that has not started. watch: follows the live channel and prints each state
change and the accrued cost until the contract ends (--json: one JSON object per line).

Examples:
  mnemo contracts list --status active
  mnemo contracts extend 3f0c...-... --by 30m
  mnemo contracts watch 3f0c...-... --json

${GLOBAL_HELP}
`,
  lease: `mnemo lease ID [--url]

The lease of an active contract: its endpoint, username (the contract id), password (the lease
token) and redis:// URL. --url prints only the URL.

Example:
  redis-cli -u "$(mnemo lease 3f0c...-... --url)" INFO memory

${GLOBAL_HELP}
`,
  balance: `mnemo balance

Your prepaid balance, what is held for running contracts, what is available, the burn rate and
the runway.

${GLOBAL_HELP}
`,
  topup: `mnemo topup --amount USD --payment-method pm_...

Adds funds with Stripe. The CLI never handles card numbers: pass a Stripe PaymentMethod id
(pm_...) or card token (tok_...) from Stripe.js, the Stripe CLI or your Stripe dashboard
(or set MNEMO_STRIPE_PAYMENT_METHOD). Amounts are whole cents, at least 0.50.

Example:
  mnemo topup --amount 25 --payment-method pm_1Pxyz...

${GLOBAL_HELP}
`,
  ledger: `mnemo ledger [--limit N] [--offset N]

Every movement of your balance (top-ups, holds, releases, charges, credits), each with its hash in
the append-only chain.

${GLOBAL_HELP}
`,
};

const LOC = { lat: { type: "string" }, lng: { type: "string" } } as const;
const MATCH_OPTS = {
  ...LOC,
  ram: { type: "string" },
  vram: { type: "string" },
  duration: { type: "string" },
  limit: { type: "string" },
  o: { type: "string", short: "o" },
} as const;
const PAGE = { limit: { type: "string" }, offset: { type: "string" } } as const;

const help = (command?: string): number => printHelp(CLI, command);

function noArgs(positionals: string[], command: string): void {
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}". See mnemo ${command} --help.`);
}

/** logout, whoami and balance: no flags of their own, no arguments. */
const account: Command = (rest, command) => {
  const { values, positionals } = parse(rest, {}, command);
  if (values.help) return help(command);
  noArgs(positionals, command);
  const ctx = makeCtx(values);
  return command === "logout" ? auth.logout(ctx) : command === "whoami" ? auth.whoami(ctx) : billing.balance(ctx);
};

const CLI: CommandLine = {
  mainHelp: MAIN_HELP,
  help: HELP,
  unknownHelp: (command) => `Unknown command "${command}". See mnemo --help.`,
  unknownCommand: (command) => `Unknown command "${command}". See mnemo --help.`,
  commands: {
    login: (rest) => {
      const { values, positionals } = parse(rest, { email: { type: "string" }, "password-stdin": { type: "boolean" } }, "login");
      if (values.help) return help("login");
      noArgs(positionals, "login");
      return auth.login(makeCtx(values), values);
    },
    logout: account,
    whoami: account,
    balance: account,
    offers: (rest) => {
      const [sub, ...more] = rest;
      if (sub === "-h" || sub === "--help" || sub === undefined) return help("offers");
      if (sub !== "search") throw new UsageError(`Unknown subcommand "offers ${sub}". Did you mean mnemo offers search?`);
      const { values, positionals } = parse(more, { ...LOC, o: { type: "string", short: "o" }, limit: { type: "string" } }, "offers");
      if (values.help) return help("offers");
      return market.offersSearch(makeCtx(values), positionals.join(" "), values);
    },
    match: (rest, command) => {
      const { values, positionals } = parse(rest, MATCH_OPTS, command);
      if (values.help) return help(command);
      return market.match(makeCtx(values), positionals.join(" "), values);
    },
    rent: (rest, command) => {
      const { values, positionals } = parse(rest, { ...MATCH_OPTS, "auto-renew": { type: "boolean" }, wait: { type: "string" } }, command);
      if (values.help) return help(command);
      return market.rent(makeCtx(values), positionals.join(" "), values);
    },
    contracts: (rest) => {
      const [sub, ...more] = rest;
      if (sub === "-h" || sub === "--help" || sub === undefined) return help("contracts");
      const { values, positionals } = parse(
        more,
        { ...PAGE, status: { type: "string" }, by: { type: "string" }, interval: { type: "string" }, timeout: { type: "string" } },
        "contracts",
      );
      if (values.help) return help("contracts");
      const given = Object.keys(values).filter((k) => !["api-url", "json", "explain", "help"].includes(k));
      const allowed: Record<string, string[]> = {
        list: ["status", "limit", "offset"],
        show: [],
        extend: ["by"],
        settle: [],
        cancel: [],
        watch: ["interval", "timeout"],
      };
      if (!allowed[sub])
        throw new UsageError(`Unknown subcommand "contracts ${sub}". Subcommands: list, show, extend, settle, cancel, watch.`);
      const stray = given.find((k) => !allowed[sub].includes(k));
      if (stray) throw new UsageError(`mnemo contracts ${sub} does not take --${stray}. See mnemo contracts --help.`);
      if (positionals.length > (sub === "list" ? 0 : 1))
        throw new UsageError(`Unexpected argument "${positionals.at(-1)}". See mnemo contracts --help.`);
      const ctx = makeCtx(values);
      const id = positionals[0];
      switch (sub) {
        case "list":
          return contracts.list(ctx, values);
        case "show":
          return contracts.show(ctx, id);
        case "extend":
          return contracts.extend(ctx, id, values.by);
        case "settle":
          return contracts.settle(ctx, id);
        case "cancel":
          return contracts.cancel(ctx, id);
        default:
          return contracts.watch(ctx, id, values);
      }
    },
    lease: (rest) => {
      const { values, positionals } = parse(rest, { url: { type: "boolean" } }, "lease");
      if (values.help) return help("lease");
      if (positionals.length > 1) throw new UsageError(`Unexpected argument "${positionals[1]}". See mnemo lease --help.`);
      return contracts.lease(makeCtx(values), positionals[0], values);
    },
    topup: (rest) => {
      const { values, positionals } = parse(rest, { amount: { type: "string" }, "payment-method": { type: "string" } }, "topup");
      if (values.help) return help("topup");
      noArgs(positionals, "topup");
      return billing.topup(makeCtx(values), values);
    },
    ledger: (rest) => {
      const { values, positionals } = parse(rest, PAGE, "ledger");
      if (values.help) return help("ledger");
      noArgs(positionals, "ledger");
      return billing.ledger(makeCtx(values), values);
    },
  },
};

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(CLI, argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`mnemo: ${e.message}`);
      return 2;
    }
    if (e instanceof ApiError) {
      const details = Array.isArray(e.details)
        ? e.details
            .map((d: { field?: string; message?: string }) =>
              d && typeof d === "object" ? `${d.field ? `${d.field}: ` : ""}${d.message ?? ""}` : String(d),
            )
            .filter(Boolean)
        : [];
      err(
        `mnemo: ${e.message} (${e.code}, HTTP ${e.status})${details.length ? `\n  ${details.join("\n  ")}` : ""}${e.status === 401 ? "\n  Log in again: mnemo login" : ""}`,
      );
      return 1;
    }
    if (e instanceof NetworkError || e instanceof NotLoggedIn || e instanceof market.RentFailed) {
      err(`mnemo: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
