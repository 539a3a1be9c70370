import { api, ApiError, type AuthResponse } from "../lib/api";
import { clearFieldErrors, setBusy, setFieldError, showFormError } from "../lib/dom";
import { homeFor, saveSession } from "../lib/session";

const form = document.getElementById("register-form") as HTMLFormElement;
const status = document.getElementById("register-status") as HTMLElement;
const wanted = new URLSearchParams(location.search).get("role");
if (wanted === "provider" || wanted === "user") {
  form.querySelector<HTMLInputElement>(`input[name="role"][value="${wanted}"]`)!.checked = true;
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearFieldErrors(form);
  status.hidden = true;
  const data = new FormData(form);
  const body = {
    email: String(data.get("email") ?? "").trim(),
    password: String(data.get("password") ?? ""),
    role: String(data.get("role") ?? "user"),
    full_name: String(data.get("full_name") ?? "").trim() || undefined,
    organization: String(data.get("organization") ?? "").trim() || undefined,
  };
  let bad = false;
  if (!/^\S+@\S+\.\S+$/.test(body.email)) setFieldError(form, "email", "Enter a valid email address."), (bad = true);
  if (body.password.length < 8) setFieldError(form, "password", "Use at least 8 characters."), (bad = true);
  if (bad) return (form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus(), undefined);

  const button = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
  setBusy(button, true, "Creating account…");
  try {
    const res = await api<AuthResponse>("/api/auth/register", { method: "POST", body, redirectOn401: false });
    saveSession(res.access_token, res.expires_in, res.user);
    location.assign(homeFor(res.user.role));
  } catch (e) {
    setBusy(button, false);
    if (e instanceof ApiError && e.status === 409) {
      setFieldError(form, "email", "An account with this email already exists. Sign in instead?");
      form.querySelector<HTMLElement>('[name="email"]')?.focus();
    } else showFormError(form, status, e);
  }
});
