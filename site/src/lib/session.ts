// The session token lives in sessionStorage, not localStorage: a bearer token that outlives the
// browser on a shared machine is a bigger risk than logging in again in a new browser session,
// and tabs opened from a Mnemo link inherit a copy anyway. Both storages are readable by any
// script on the page, so the real XSS defence is elsewhere: API text is only ever rendered with
// textContent, and a CSP restricts scripts to our own bundle. Never put the token in a URL.

const KEY = "mnemo.session";

export type Role = "user" | "provider" | "admin";

export interface SessionUser {
  id: string;
  email: string;
  role: Role;
  full_name?: string | null;
  organization?: string | null;
}

interface Stored {
  token: string;
  expiresAt: number;
  user: SessionUser;
}

function read(): Stored | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Stored;
    if (!s.token || typeof s.expiresAt !== "number" || s.expiresAt <= Date.now()) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

export function getToken(): string | null {
  return read()?.token ?? null;
}

export function getUser(): SessionUser | null {
  return read()?.user ?? null;
}

export function saveSession(token: string, expiresInSec: number, user: SessionUser): void {
  // Expire a minute early so we never send a token the worker is about to reject.
  const expiresAt = Date.now() + Math.max(0, expiresInSec - 60) * 1000;
  sessionStorage.setItem(KEY, JSON.stringify({ token, expiresAt, user } satisfies Stored));
  window.dispatchEvent(new Event("mnemo:session"));
}

export function updateUser(user: SessionUser): void {
  const s = read();
  if (!s) return;
  sessionStorage.setItem(KEY, JSON.stringify({ ...s, user }));
  window.dispatchEvent(new Event("mnemo:session"));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
  window.dispatchEvent(new Event("mnemo:session"));
}

export function homeFor(role: Role | undefined): string {
  if (role === "provider") return "/provider";
  if (role === "admin") return "/admin";
  return "/marketplace";
}

/** Only same-origin paths are accepted as a post-login destination (no open redirect). */
export function safeNext(next: string | null): string | null {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return null;
  return next;
}

export function redirectToLogin(): void {
  const here = location.pathname + location.search;
  const q = here && here !== "/login" ? `?next=${encodeURIComponent(here)}` : "";
  location.assign(`/login${q}`);
}
