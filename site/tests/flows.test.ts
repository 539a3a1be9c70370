// The journeys of the issue, clicked through in Chromium against the real worker.
import { describe, expect, test } from "vitest";
import { call, openPage, PASSWORD, ready, register, renterWithContract, SEED_ENDPOINT, settle, shot, useSite } from "./support";

const site = useSite();

describe("accounts", () => {
  test("register as a provider through the form lands on the provider dashboard", async () => {
    const { context, page, errors } = await openPage(site.browser);
    try {
      await page.goto(`${site.stack.url}/register`);
      await page.getByLabel("Provide memory").check();
      await page.getByLabel("Email").fill(`new-provider-${Date.now()}@e2e.test`);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByLabel("Organization").fill("E2E Labs");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.waitForURL(/\/provider$/);
      await expect(page.locator("[data-user-role]").textContent()).resolves.toBe("provider");
      await settle(page);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("register shows field errors next to the fields, and a taken email", async () => {
    const { context, page } = await openPage(site.browser);
    try {
      await page.goto(`${site.stack.url}/register`);
      await page.getByLabel("Email").fill("not-an-email");
      await page.getByLabel("Password").fill("short");
      await page.getByRole("button", { name: "Create account" }).click();
      const pw = page.getByLabel("Password");
      await expect(pw.getAttribute("aria-invalid")).resolves.toBe("true");
      await expect(page.locator("#reg-password-error").textContent()).resolves.toMatch(/8 characters/);
      // The error is announced with the field: aria-describedby points at it.
      await expect(pw.getAttribute("aria-describedby")).resolves.toContain("reg-password-error");

      await page.getByLabel("Email").fill(site.market.renter.email);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Create account" }).click();
      await page.locator("#reg-email-error:not([hidden])").waitFor();
      await expect(page.locator("#reg-email-error").textContent()).resolves.toMatch(/already exists/);
      await shot(page, "flow-register-errors");
    } finally {
      await context.close();
    }
  });

  test("login: a wrong password is refused in words; the right one opens the renter's marketplace", async () => {
    const { context, page, errors } = await openPage(site.browser);
    try {
      await page.goto(`${site.stack.url}/login`);
      await page.getByLabel("Email").fill(site.market.renter.email);
      await page.getByLabel("Password").fill("wrong-password-123");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator("#login-status.notice-error").waitFor();
      await expect(page.locator("#login-status").textContent()).resolves.toMatch(/do not match/);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(/\/marketplace$/);
      // The token is kept in sessionStorage, never in the address bar.
      expect(page.url()).not.toContain(site.market.renter.token.slice(0, 20));
      const stored = await page.evaluate(() => sessionStorage.getItem("mnemo.session"));
      expect(stored).toContain("token");
      await settle(page);
      // The 401 of the wrong password is the one expected console line.
      expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("a signed-out visit to a dashboard goes to /login and comes back after signing in", async () => {
    const { context, page } = await openPage(site.browser);
    try {
      await page.goto(`${site.stack.url}/contracts`);
      await page.waitForURL(/\/login\?next=%2Fcontracts/);
      await page.getByLabel("Email").fill(site.market.renter.email);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(/\/contracts$/);
    } finally {
      await context.close();
    }
  });
});

describe("renter", () => {
  test("finds offers, gets ranked matches, rents one and sees the contract on /contracts", async () => {
    const { context, page, errors } = await openPage(site.browser, { account: site.market.renter });
    try {
      await page.goto(`${site.stack.url}/marketplace`);
      const rows = page.locator("#offers-body tr");
      await page.locator("#offers-body tr td .cell-title").first().waitFor();
      await expect(rows.count()).resolves.toBe(3);

      // A filter the API applies: only nodes with VRAM.
      await page.getByLabel("Min VRAM (GB)").fill("20");
      await page.getByRole("button", { name: "Apply filters" }).click();
      await page.waitForFunction(() => document.querySelectorAll("#offers-body tr").length === 2);
      await expect(page.locator("#offers-body").textContent()).resolves.not.toContain("ashburn-edge-1");

      // Request from Paris: the Paris node ranks first.
      await page.getByLabel("Latitude").fill("48.85");
      await page.getByLabel("Longitude").fill("2.35");
      // Required fields carry a " *" in their label, so these go by id.
      await page.locator("#r-ram").fill("16");
      await page.locator("#r-vram").fill("0");
      await page.locator("#r-duration").fill("2");
      await page.getByLabel("Unit").selectOption("3600");
      await page.getByRole("button", { name: "Find matches" }).click();
      const first = page.locator("#matches li").first();
      await first.waitFor();
      await expect(first.textContent()).resolves.toContain("paris-dc-1");
      await expect(first.locator(".breakdown").textContent()).resolves.toContain("Proximity");
      // 16 GB × 7200 s × $0.0000008 = $0.09216
      await expect(first.locator(".match-cost").textContent()).resolves.toBe("$0.0922");
      await shot(page, "flow-marketplace-matches");

      await first.getByRole("button", { name: /Rent/ }).click();
      await first.locator(".notice-success").waitFor();
      await expect(first.locator(".notice-success").textContent()).resolves.toMatch(/Contract created/);

      await first.getByRole("link", { name: "View your contracts" }).click();
      await page.waitForURL(/\/contracts$/);
      const row = page.locator("#contracts-body tr[data-contract-id]").first();
      await row.waitFor();
      await expect(row.textContent()).resolves.toMatch(/16 GB RAM/);
      await expect(row.locator(".badge").first().textContent()).resolves.toMatch(/pending|active/);
      await page.waitForFunction(() => document.querySelector("#contracts-body tr[data-contract-id]")?.textContent?.includes("paris-dc-1"));
      await settle(page);
      await shot(page, "flow-contracts");

      // Details open in a dialog with the node.
      await row.getByRole("button", { name: /Details/ }).click();
      await page.locator("#detail-content dl").first().waitFor();
      await expect(page.locator("#detail-content").textContent()).resolves.toContain("paris-dc-1");
      await page.keyboard.press("Escape");
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("/contracts follows the contract live over the WebSocket as the node picks it up", async () => {
    const { renter, contract } = await renterWithContract(site.stack.url, site.market, site.market.nodeIds[0], 2);
    const { context, page, errors } = await openPage(site.browser, { account: renter });
    try {
      await page.goto(`${site.stack.url}/contracts`);
      await page.locator('#live-state[data-state="live"]').waitFor({ timeout: 10_000 });
      const badge = page.locator(`tr[data-contract-id="${contract.id}"] .badge`).first();
      await expect(badge.textContent()).resolves.toBe("pending");
      // The node's agent holds the lease and says so: pending → active, pushed as contract_update.
      await ready(site.stack.url, site.market.apiKey, site.market.nodeIds[0], contract.id);
      // Well inside the 10 s polling fallback, so this is the socket at work.
      await page.waitForFunction(
        (id) => document.querySelector(`tr[data-contract-id="${id}"] .badge`)?.textContent === "active",
        contract.id,
        { timeout: 6_000 },
      );
      await shot(page, "flow-contracts-live");

      // Extend by 5 minutes, then settle; both through their dialogs.
      const row = page.locator(`tr[data-contract-id="${contract.id}"]`);
      await row.getByRole("button", { name: /Extend/ }).click();
      const extend = page.getByRole("dialog");
      await extend.getByLabel("Add").fill("5");
      await extend.getByLabel("Unit").selectOption("60");
      await extend.getByRole("button", { name: "Extend" }).click();
      await page.locator("#action-status.notice-success").waitFor();
      await expect(page.locator("#action-status").textContent()).resolves.toMatch(/Extended by 5 min/);

      await row.getByRole("button", { name: /Settle/ }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Settle now" }).click();
      await page.waitForFunction(
        (id) => document.querySelector(`tr[data-contract-id="${id}"] .badge`)?.textContent === "completed",
        contract.id,
        { timeout: 10_000 },
      );

      // The balance history shows the credit and the contract's hold, newest first.
      await page.locator("#ledger summary").click();
      await page.locator("#ledger-body tr td.mono").first().waitFor();
      const history = await page.locator("#ledger-body").textContent();
      expect(history).toContain("Credit");
      expect(history).toContain("Hold for a contract");
      await settle(page);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("an active contract's details show its lease URL with a copy button and a redis-cli line", async () => {
    const { renter, contract } = await renterWithContract(site.stack.url, site.market, site.market.nodeIds[1], 1);
    await ready(site.stack.url, site.market.apiKey, site.market.nodeIds[1], contract.id);
    const lease = await call(site.stack.url, `/api/contracts/${contract.id}/lease`, { token: renter.token });
    expect(lease.url).toBe(`redis://${contract.id}:${lease.lease_token}@${SEED_ENDPOINT}/0`);
    const { context, page, errors } = await openPage(site.browser, { account: renter });
    try {
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: site.stack.url });
      await page.goto(`${site.stack.url}/contracts`);
      await page
        .locator(`tr[data-contract-id="${contract.id}"]`)
        .getByRole("button", { name: /Details/ })
        .click();
      const url = page.getByRole("textbox", { name: "Lease URL", exact: true });
      await url.waitFor();
      // A token signed for the same contract and term: the same URL up to the token's iat.
      const shown = await url.inputValue();
      expect(shown).toMatch(new RegExp(`^redis://${contract.id}:[\\w-]+\\.[\\w-]+\\.[\\w-]+@127\\.0\\.0\\.1:7379/0$`));
      await expect(page.getByRole("textbox", { name: "redis-cli command" }).inputValue()).resolves.toBe(`redis-cli -u '${shown}' PING`);
      await page.getByRole("button", { name: "Copy lease URL" }).click();
      await expect(page.getByRole("button", { name: "Copy lease URL" }).textContent()).resolves.toBe("Copied");
      await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(shown);
      await page.getByRole("button", { name: "Copy redis-cli command" }).click();
      await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(`redis-cli -u '${shown}' PING`);
      await shot(page, "flow-contract-lease");
      await settle(page);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("a pending contract can be cancelled from /contracts", async () => {
    const { renter } = await renterWithContract(site.stack.url, site.market, site.market.nodeIds[1], 4);
    const { context, page, errors } = await openPage(site.browser, { account: renter });
    try {
      await page.goto(`${site.stack.url}/contracts`);
      const row = page.locator("#contracts-body tr[data-contract-id]").first();
      await row.getByRole("button", { name: /Cancel/ }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Cancel contract" }).click();
      await page.locator("#action-status.notice-success").waitFor();
      await page.waitForFunction(() => document.querySelector("#contracts-body .badge")?.textContent === "cancelled");
      await settle(page);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe("anonymous visitor", () => {
  test("browses offers on /marketplace and is asked to sign in to get matches", async () => {
    const { context, page, errors } = await openPage(site.browser);
    try {
      await page.goto(`${site.stack.url}/marketplace`);
      await page.locator("#offers-body .cell-title").first().waitFor();
      await expect(page.locator("#balance-chip").isHidden()).resolves.toBe(true);
      await page.getByRole("button", { name: "Find matches" }).click();
      await page.locator("#request-status.notice-info").waitFor();
      await expect(page.locator("#request-status").getByRole("link", { name: "sign in" }).getAttribute("href")).resolves.toBe(
        "/login?next=%2Fmarketplace",
      );
      expect(page.url()).toMatch(/\/marketplace$/);
      await settle(page);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("the offers pager: Next asks for the next 20, Previous goes back, each only where it leads somewhere", async () => {
    const { context, page, errors } = await openPage(site.browser);
    try {
      // The seeded market fits on one page, so the real answers pass through with a total of 45,
      // and the second page is answered with the first page's offers.
      const offsets: string[] = [];
      await page.route("**/api/marketplace?**", async (route) => {
        const url = new URL(route.request().url());
        offsets.push(url.searchParams.get("offset") ?? "");
        url.searchParams.set("offset", "0");
        const res = await route.fetch({ url: url.toString() });
        await route.fulfill({ response: res, json: { ...(await res.json()), total_count: 45 } });
      });
      await page.goto(`${site.stack.url}/marketplace`);
      const range = page.locator("#offers-range");
      const prev = page.locator("#offers-prev");
      const next = page.locator("#offers-next");
      await expect.poll(() => range.textContent()).toMatch(/^Showing 1–\d+ of 45$/);
      await expect(prev.isDisabled()).resolves.toBe(true);
      await expect(next.isDisabled()).resolves.toBe(false);

      await next.click();
      await expect.poll(() => range.textContent()).toMatch(/^Showing 21–\d+ of 45$/);
      expect(offsets.at(-1)).toBe("20");
      await expect(prev.isDisabled()).resolves.toBe(false);

      await prev.click();
      await expect.poll(() => range.textContent()).toMatch(/^Showing 1–\d+ of 45$/);
      expect(offsets.at(-1)).toBe("0");
      await expect(prev.isDisabled()).resolves.toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("an expired or forged token sends the visitor to /login and is forgotten", async () => {
    const forged = { ...site.market.renter, token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged-signature" };
    const { context, page, errors } = await openPage(site.browser, { account: forged });
    try {
      await page.goto(`${site.stack.url}/contracts`);
      await page.waitForURL(/\/login\?next=%2Fcontracts$/);
      // The init script only seeds an empty store, so this is the page having cleared the bad token.
      await expect(page.evaluate(() => sessionStorage.getItem("mnemo.session"))).resolves.toBeNull();
      await expect(page.locator("#login-status").textContent()).resolves.toMatch(/sign in to continue/i);
      expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("keyboard only: skip link, then sign in with Tab and Enter", async () => {
    const { context, page } = await openPage(site.browser);
    try {
      await page.goto(`${site.stack.url}/login`);
      await page.keyboard.press("Tab");
      await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe("Skip to content");
      await page.keyboard.press("Enter");
      await expect(page.evaluate(() => location.hash)).resolves.toBe("#main");
      await page.locator("#login-email").focus();
      await page.keyboard.type(site.market.renter.email);
      await page.keyboard.press("Tab");
      await page.keyboard.type(PASSWORD);
      await page.keyboard.press("Enter");
      await page.waitForURL(/\/marketplace$/);
    } finally {
      await context.close();
    }
  });
});

describe("provider", () => {
  test("sees their nodes and creates an API key that is shown once and listed", async () => {
    const { context, page, errors } = await openPage(site.browser, { account: site.market.provider });
    try {
      await page.goto(`${site.stack.url}/provider`);
      await page.locator("#nodes-body .cell-title").first().waitFor();
      const text = await page.locator("#nodes-body").textContent();
      for (const n of ["paris-dc-1", "ashburn-edge-1", "singapore-mist-1"]) expect(text).toContain(n);

      await page.getByLabel("Key name").fill("rack-7 agent");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.locator("#new-key:not([hidden])").waitFor();
      const key = (await page.locator("#new-key-value").textContent()) ?? "";
      expect(key.length).toBeGreaterThan(20);
      await page.waitForFunction(() => document.querySelector("#keys-body")?.textContent?.includes("rack-7 agent"));
      // The listing shows only the prefix, never the key itself.
      await expect(page.locator("#keys-body").textContent()).resolves.not.toContain(key);
      // Payouts: a malformed account is refused next to the field; a well-formed one is saved.
      await page.locator("#payouts summary").click();
      await page.getByLabel("Stripe connected account").fill("not-an-account");
      await page.getByRole("button", { name: "Save account" }).click();
      await expect(page.locator("#acct-error").textContent()).resolves.toMatch(/acct_/);
      await page.getByLabel("Stripe connected account").fill("acct_1E2eTestAccount");
      await page.getByRole("button", { name: "Save account" }).click();
      await page.locator("#payout-status.notice-success").waitFor();
      await page.waitForFunction(() => document.querySelector("#payout-summary")?.textContent === "to acct_1E2eTestAccount");
      // Nothing earned yet: below the minimum, so no payout can be asked for.
      await expect(page.getByRole("button", { name: "Pay out pending earnings" }).isDisabled()).resolves.toBe(true);

      // The new key really works for the agent.
      const nodes = await call(site.stack.url, "/api/nodes?limit=5", { apiKey: key });
      expect(nodes.nodes.length).toBeGreaterThan(0);
      await settle(page);
      await shot(page, "flow-provider");
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe("clusters", () => {
  test("shows every seeded region on the map and as a card", async () => {
    const { context, page, errors } = await openPage(site.browser, { account: site.market.renter });
    try {
      await page.goto(`${site.stack.url}/clusters`);
      await page.locator(".cluster-card").first().waitFor();
      for (const region of ["eu-west", "us-east", "ap-southeast"]) {
        await expect(page.locator(`.cluster-card[data-region="${region}"]`).count()).resolves.toBe(1);
        await expect(page.locator(`#markers a.marker[href="#cluster-${region}"]`).count()).resolves.toBe(1);
      }
      // The biggest region (Paris: 336 GB) has the biggest marker.
      const radius = (r: string) => page.locator(`#markers a[href="#cluster-${r}"] circle.total`).getAttribute("r").then(Number);
      expect(await radius("eu-west")).toBeGreaterThan(await radius("ap-southeast"));
      // Keyboard: a marker is focusable and opens the region's nodes.
      await page.locator('#markers a[href="#cluster-us-east"]').focus();
      await page.keyboard.press("Enter");
      await page.locator("#region-nodes .cell-title").first().waitFor();
      await expect(page.locator("#region-nodes").textContent()).resolves.toContain("ashburn-edge-1");
      await settle(page);
      await shot(page, "flow-clusters");
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe("API failures are shown in words", () => {
  test("a failing endpoint leaves the page usable with a readable message", async () => {
    const { context, page, errors } = await openPage(site.browser, { account: site.market.renter });
    try {
      await page.route("**/api/marketplace?**", (r) =>
        r.fulfill({
          status: 503,
          contentType: "application/json",
          body: JSON.stringify({ error: { code: "service_unavailable", message: "the region is being rebalanced" } }),
        }),
      );
      await page.goto(`${site.stack.url}/marketplace`);
      await page.locator("#offers-status.notice-error").waitFor();
      await expect(page.locator("#offers-status").textContent()).resolves.toContain("the region is being rebalanced");
      // The rest of the page still works.
      await expect(page.getByRole("button", { name: "Find matches" }).isEnabled()).resolves.toBe(true);
      expect(errors.filter((e) => !/status of 503/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("API text is rendered as text, not HTML", async () => {
    const { context, page } = await openPage(site.browser, { account: site.market.renter });
    try {
      await page.route("**/api/marketplace?**", (r) =>
        r.fulfill({
          status: 200,
          contentType: "application/json",
          body: JSON.stringify({
            offers: [
              {
                node_id: "x",
                node_name: '<img src=x onerror="window.__xss=1">',
                node_type: "mist_node",
                region: "eu-west",
                available_ram_gb: 1,
                available_vram_gb: 0,
                price_per_gb_sec: 0.000001,
                uptime_score: 99,
                distance_km: null,
                estimated_latency_ms: 5,
              },
            ],
            total_count: 1,
          }),
        }),
      );
      await page.goto(`${site.stack.url}/marketplace`);
      await page.locator("#offers-body .cell-title").first().waitFor();
      await expect(page.locator("#offers-body .cell-title").first().textContent()).resolves.toContain("<img");
      expect(await page.locator("#offers-body img").count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    } finally {
      await context.close();
    }
  });
});
