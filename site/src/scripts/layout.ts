import { clearSession, getUser, redirectToLogin } from "../lib/session";

function render() {
  const user = getUser();
  document.querySelectorAll<HTMLElement>("[data-signed-in]").forEach((e) => {
    e.hidden = !user;
  });
  document.querySelectorAll<HTMLElement>("[data-signed-out]").forEach((e) => {
    e.hidden = !!user;
  });
  document.querySelectorAll<HTMLElement>("[data-admin-only]").forEach((e) => {
    e.hidden = user?.role !== "admin";
  });
  const email = document.querySelector<HTMLElement>("[data-user-email]");
  const role = document.querySelector<HTMLElement>("[data-user-role]");
  if (email) email.textContent = user?.email ?? "";
  if (role) role.textContent = user ? (user.role === "user" ? "renter" : user.role) : "";
}

if (document.body.dataset.auth === "required" && !getUser()) redirectToLogin();
render();
window.addEventListener("mnemo:session", render);

document.querySelector("[data-logout]")?.addEventListener("click", () => {
  clearSession();
  location.assign("/");
});

// Phones show `table.stack-sm` rows as cards; each cell is labelled with its column header.
function labelCells(table: HTMLTableElement) {
  const heads = [...table.querySelectorAll("thead th")].map((th) =>
    th.querySelector(".sr-only") && th.textContent?.trim() === th.querySelector(".sr-only")?.textContent?.trim()
      ? ""
      : (th.textContent?.trim() ?? ""),
  );
  table.querySelectorAll("tbody tr").forEach((tr) => {
    [...tr.children].forEach((td, i) => {
      if (!td.hasAttribute("data-label")) td.setAttribute("data-label", td.hasAttribute("colspan") ? "" : (heads[i] ?? ""));
    });
  });
}
document.querySelectorAll<HTMLTableElement>("table.stack-sm").forEach((t) => {
  labelCells(t);
  if (t.tBodies[0]) new MutationObserver(() => labelCells(t)).observe(t.tBodies[0], { childList: true });
});

const toggle = document.querySelector<HTMLButtonElement>(".nav-toggle");
const nav = document.getElementById("site-nav");
toggle?.addEventListener("click", () => {
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  nav?.classList.toggle("open", open);
});
