// Every page, as the account it is meant for: it renders, shows no console error or uncaught
// exception, and has no horizontal overflow at phone width (390 px).
import { describe, expect, test } from "vitest";
import { horizontalOverflow, openPage, settle, shot, type Account, useSite } from "./support";

const site = useSite({ activity: true });

type Who = "anonymous" | "renter" | "provider" | "admin";
const PAGES: { path: string; who: Who; heading: RegExp }[] = [
  { path: "/", who: "anonymous", heading: /Rent RAM and VRAM near you/ },
  { path: "/register", who: "anonymous", heading: /Create your account/ },
  { path: "/login", who: "anonymous", heading: /Sign in/ },
  { path: "/marketplace", who: "renter", heading: /Marketplace/ },
  { path: "/marketplace", who: "anonymous", heading: /Marketplace/ },
  { path: "/contracts", who: "renter", heading: /Contracts/ },
  { path: "/provider", who: "provider", heading: /Your nodes/ },
  { path: "/clusters", who: "renter", heading: /Clusters/ },
  { path: "/analytics", who: "renter", heading: /Analytics/ },
  { path: "/admin", who: "admin", heading: /Administration/ },
  { path: "/no-such-page", who: "anonymous", heading: /not in memory/ },
];

/** The 404 page's own document load is logged as a failed resource; that one is expected. */
function withoutOwn404(errors: string[], path: string): string[] {
  return errors.filter((e) => !(e.includes("status of 404") && e.endsWith(`${path}`)));
}

function account(who: Who): Account | undefined {
  return who === "anonymous" ? undefined : site.market[who];
}

describe("every page loads cleanly", () => {
  for (const p of PAGES) {
    test(`${p.path} as ${p.who}`, async () => {
      const name = `${p.path === "/" ? "-home" : p.path.replace(/\//g, "-")}${p.who === "anonymous" && p.path === "/marketplace" ? "-anonymous" : ""}`;
      const { context, page, errors } = await openPage(site.browser, { account: account(p.who) });
      try {
        const res = await page.goto(site.stack.url + p.path);
        expect(res?.status()).toBe(p.path === "/no-such-page" ? 404 : 200);
        await expect(page.locator("h1").first().textContent()).resolves.toMatch(p.heading);
        await settle(page);
        // No page may stay on a spinner once the network is quiet.
        expect(await page.locator(".notice-loading:visible").count()).toBe(0);
        await page.evaluate(() => window.scrollTo(0, 0));
        await shot(page, `desktop${name}`);
        expect(withoutOwn404(errors, p.path)).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});

describe("phone width (390 px) has no horizontal overflow", () => {
  for (const p of PAGES) {
    test(`${p.path} as ${p.who} at 390 px`, async () => {
      const name = `${p.path === "/" ? "-home" : p.path.replace(/\//g, "-")}${p.who === "anonymous" && p.path === "/marketplace" ? "-anonymous" : ""}`;
      const { context, page, errors } = await openPage(site.browser, { account: account(p.who), width: 390, height: 844 });
      try {
        await page.goto(site.stack.url + p.path);
        await settle(page);
        expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
        // The menu opens from the toggle and its links fit too.
        await page.getByRole("button", { name: "Menu" }).click();
        await expect(page.locator("#site-nav").isVisible()).resolves.toBe(true);
        expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
        await page.getByRole("button", { name: "Menu" }).click();
        await shot(page, `mobile${name}`);
        expect(withoutOwn404(errors, p.path)).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});

describe("every page survives a failing API", () => {
  for (const p of PAGES.filter((x) => x.path !== "/no-such-page" && x.path !== "/register" && x.path !== "/login")) {
    test(`${p.path} as ${p.who} with every API call answering 500`, async () => {
      const { context, page, errors } = await openPage(site.browser, { account: account(p.who) });
      try {
        await context.route("**/api/**", (r) =>
          r.fulfill({
            status: 500,
            contentType: "application/json",
            body: JSON.stringify({ error: { code: "internal_error", message: "the database is on fire" } }),
          }),
        );
        await page.goto(site.stack.url + p.path);
        await settle(page);
        await expect(page.locator("h1").first().textContent()).resolves.toMatch(p.heading);
        // The failure is said in words somewhere on the page, not left as a spinner or a blank.
        await page
          .getByText(/the database is on fire|unavailable|could not be loaded/i)
          .first()
          .waitFor();
        expect(await page.locator(".notice-loading:visible").count()).toBe(0);
        // Failed requests are logged by Chromium; anything else (an exception) is a bug.
        expect(errors.filter((e) => !/status of 500/.test(e))).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
