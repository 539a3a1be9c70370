import { api, ApiError, type AuthResponse } from "../lib/api";
import { clearFieldErrors, setBusy, setFieldError, showFormError, showStatus } from "../lib/dom";
import { getUser, homeFor, safeNext, saveSession } from "../lib/session";

const form = document.getElementById("login-form") as HTMLFormElement;
const status = document.getElementById("login-status") as HTMLElement;
const next = safeNext(new URLSearchParams(location.search).get("next"));

const existing = getUser();
if (existing) showStatus(status, `You are signed in as ${existing.email}. Signing in again switches account.`, "info");
else if (next) showStatus(status, "Please sign in to continue.", "info");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearFieldErrors(form);
  const data = new FormData(form);
  const email = String(data.get("email") ?? "").trim();
  const password = String(data.get("password") ?? "");
  let bad = false;
  if (!email || !/^\S+@\S+\.\S+$/.test(email)) setFieldError(form, "email", "Enter the email you registered with."), (bad = true);
  if (!password) setFieldError(form, "password", "Enter your password."), (bad = true);
  if (bad) return (form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus(), undefined);

  const button = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  setBusy(button, true, "Signing in…");
  status.hidden = true;
  try {
    const res = await api<AuthResponse>("/api/auth/login", { method: "POST", body: { email, password }, redirectOn401: false });
    saveSession(res.access_token, res.expires_in, res.user);
    location.assign(next ?? homeFor(res.user.role));
  } catch (e) {
    setBusy(button, false);
    if (e instanceof ApiError && e.status === 401) {
      showStatus(status, "That email and password do not match an account.", "error");
    } else showFormError(form, status, e);
  }
});
