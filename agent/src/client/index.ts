/**
 * The one typed client of the Mnemo API, generated from the document the worker serves
 * (`npm run gen:client` writes openapi.json and schema.d.ts beside this file). Paths, bodies and
 * answers are checked by the compiler, so a renamed field breaks the build, not a user.
 *
 * The runtime is openapi-fetch (a few kB over fetch). The provider daemon keeps its own
 * node:http transport (see ../api.ts: undici costs a long-running agent ~15 MB) and takes only
 * the types from here.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.d.ts";

export type { components, paths };
export type Schemas = components["schemas"];
export type Contract = Schemas["Contract"];
export type Offer = Schemas["Offer"];
export type Match = Schemas["Match"];
export type MnemoNode = Schemas["Node"];
export type User = Schemas["User"];
export type Me = Schemas["Me"];
export type Balance = Schemas["Balance"];
export type LedgerEntry = Schemas["LedgerEntry"];
export type Transaction = Schemas["Transaction"];
export type NodeType = Schemas["Offer"]["node_type"];
export type ContractStatus = Contract["status"];
type LeaseBase = paths["/api/contracts/{id}/lease"]["get"]["responses"][200]["content"]["application/json"];
/**
 * The data-plane fields (endpoint, url, ...) are in API.md and arrive with the lease endpoint
 * work; spelled out here so callers compile against either version of the document (once the
 * document has them, the intersection is simply the generated type).
 */
export type Lease = LeaseBase &
  Partial<{ endpoint: string; username: string; password: string; url: string; protocol: string; tls: boolean }>;

export type MnemoClient = Client<paths>;

/** The server answered with the error envelope (or at least an error status). */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The request never got an HTTP answer. */
export class NetworkError extends Error {
  override name = "NetworkError";
}

const SECRET_KEY = /password|token|secret|api_key/i;

/** A body as it may be shown to a person: every secret-looking field masked. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && typeof v === "string" ? "***" : redact(v)]));
  }
  return value;
}

export interface ClientOptions {
  baseUrl: string;
  /** An access token (Authorization: Bearer) or an API key (X-API-Key). */
  token?: string | null;
  apiKey?: string | null;
  userAgent?: string;
  /** Called with one line per request (method, URL, redacted body): never headers, so never the token. */
  explain?: (line: string) => void;
  fetch?: typeof fetch;
}

export function createMnemoClient(opts: ClientOptions): MnemoClient {
  const headers: Record<string, string> = { accept: "application/json" };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.apiKey) headers["x-api-key"] = opts.apiKey;
  if (opts.userAgent) headers["user-agent"] = opts.userAgent;
  const client = createClient<paths>({ baseUrl: opts.baseUrl.replace(/\/+$/, ""), headers, fetch: opts.fetch });
  if (opts.explain) {
    const explain = opts.explain;
    const mw: Middleware = {
      async onRequest({ request }) {
        let body = "";
        if (request.body) {
          const text = await request.clone().text();
          try {
            body = ` ${JSON.stringify(redact(JSON.parse(text)))}`;
          } catch {
            body = " <non-JSON body>";
          }
        }
        const u = new URL(request.url);
        for (const k of [...u.searchParams.keys()]) if (SECRET_KEY.test(k)) u.searchParams.set(k, "***");
        explain(`${request.method} ${u.toString()}${body}`);
        return undefined;
      },
    };
    client.use(mw);
  }
  return client;
}

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's body, or an ApiError built from the error envelope. */
export async function unwrap<T>(call: Promise<Outcome<T>>, baseUrl = ""): Promise<T> {
  let out: Outcome<T>;
  try {
    out = await call;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new NetworkError(`cannot reach ${baseUrl || "the Mnemo API"} (${cause?.code ?? cause?.message ?? (e as Error).message})`);
  }
  const { response } = out;
  if (!response.ok) {
    const env = (out.error as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new ApiError(
      response.status,
      env?.code ?? `http_${response.status}`,
      env?.message ?? `${response.status} ${response.statusText}`.trim(),
      env?.details,
    );
  }
  return out.data as T;
}
