import { getToken } from "./session";

export type LiveState = "connecting" | "live" | "polling";

export interface LiveMessage {
  type: string;
  data: unknown;
}

/**
 * Follows /ws/{clientId} for `contract_update` and `market_update`. The token goes in the
 * Sec-WebSocket-Protocol header (["bearer", token]), never in the URL, where it would end up in
 * logs and history. While the socket is down, `poll` runs every `pollMs` instead, and the socket
 * is retried with backoff.
 */
export function followLive(opts: {
  clientId: string;
  onMessage: (m: LiveMessage) => void;
  onState: (s: LiveState) => void;
  poll: () => void;
  pollMs?: number;
  /** Even with a live socket, refresh now and then: metering changes accrued cost without a message. */
  refreshMs?: number;
}): () => void {
  const pollMs = opts.pollMs ?? 10_000;
  const refreshMs = opts.refreshMs ?? 60_000;
  let ws: WebSocket | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let attempts = 0;
  let stopped = false;

  const every = (ms: number) => {
    if (timer) clearInterval(timer);
    timer = setInterval(opts.poll, ms);
  };

  const fallBack = () => {
    opts.onState("polling");
    every(pollMs);
    if (stopped || attempts >= 5) return;
    retry = setTimeout(connect, Math.min(120_000, 15_000 * 2 ** attempts));
  };

  function connect() {
    const token = getToken();
    if (stopped || !token || typeof WebSocket === "undefined") return fallBack();
    attempts++;
    opts.onState("connecting");
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws/${encodeURIComponent(opts.clientId)}`;
    try {
      ws = new WebSocket(url, ["bearer", token]);
    } catch {
      return fallBack();
    }
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      attempts = 0;
      opts.onState("live");
      every(refreshMs);
    });
    ws.addEventListener("message", (ev) => {
      try {
        const m = JSON.parse(String(ev.data)) as LiveMessage;
        if (m && typeof m.type === "string") opts.onMessage(m);
      } catch {
        /* not ours */
      }
    });
    ws.addEventListener("close", () => {
      ws = null;
      if (!stopped) {
        if (opened) opts.poll(); // catch up on anything missed while reconnecting
        fallBack();
      }
    });
  }

  connect();
  return () => {
    stopped = true;
    if (timer) clearInterval(timer);
    if (retry) clearTimeout(retry);
    ws?.close();
  };
}
