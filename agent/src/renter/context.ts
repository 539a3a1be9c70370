/** What every command gets: the resolved API, the typed client, and the output mode. */
import { createMnemoClient, unwrap, type MnemoClient } from "../client/index.ts";
import { VERSION } from "../version.ts";
import { resolveAuth, type Resolved } from "./session.ts";
import { err, type GlobalFlags } from "./util.ts";

export class NotLoggedIn extends Error {
  override name = "NotLoggedIn";
}

export interface Ctx extends Resolved {
  api: MnemoClient;
  json: boolean;
  explain: boolean;
  /** The token, or a clear "log in first" (exit 1) before any request is made. */
  requireToken: () => string;
  call: <T>(p: Promise<{ data?: T; error?: unknown; response: Response }>) => Promise<T>;
}

export function makeCtx(flags: GlobalFlags): Ctx {
  const resolved = resolveAuth(flags["api-url"]);
  const explain = Boolean(flags.explain);
  const api = createMnemoClient({
    baseUrl: resolved.apiUrl,
    token: resolved.token,
    userAgent: `mnemo/${VERSION} node/${process.versions.node}`,
    explain: explain ? (line) => err(`> ${line}`) : undefined,
  });
  return {
    ...resolved,
    api,
    json: Boolean(flags.json),
    explain,
    requireToken: () => {
      if (!resolved.token) {
        const s = resolved.session;
        if (s && s.api_url.replace(/\/+$/, "") !== resolved.apiUrl)
          throw new NotLoggedIn(
            `Not logged in for ${resolved.apiUrl} (your session is for ${s.api_url}): run mnemo login, or set MNEMO_TOKEN.`,
          );
        if (s) throw new NotLoggedIn(`Your session expired at ${s.expires_at}: run mnemo login.`);
        throw new NotLoggedIn("Not logged in: run mnemo login, or set MNEMO_TOKEN.");
      }
      return resolved.token;
    },
    call: (p) => unwrap(p, resolved.apiUrl),
  };
}
