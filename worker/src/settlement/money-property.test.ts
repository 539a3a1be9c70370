// The money property test (issue 10): a seeded random workload of 1,000 operations — create,
// activate, extend, settle, cancel, node failure, renewal, top-up, credit, payout, webhook replay,
// queue redelivery, region ticks — run sixteen at a time against the real worker (workerd, D1 on
// the real migrations, the region Durable Object's alarm, the queue). Then everything is settled
// and the books must balance to the micro-dollar:
//   Σ top-ups + Σ credits − Σ payouts = Σ renter balances + Σ (provider earnings − payouts) + Σ platform fees
// with nothing held on an ended contract, every chain verified, and no 5xx anywhere.
import { describe, expect, it } from "vitest";
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import worker from "../index";
import { adminAccount, api, credit, env, register, registerNode, type Account } from "../../test/helpers";
import { deliverEvent } from "../../test/money";
import { mulberry32 } from "../../test/prng";

const SEED = 20_261_122;
const OPS = 1_000;
const WIDTH = 16;

describe("money property", () => {
  it(`conserves money under a random concurrent workload (seed ${SEED})`, { timeout: 240_000 }, async () => {
    const rnd = mulberry32(SEED);
    const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(rnd() * xs.length)] : undefined);
    const region = `prop-${SEED}-${crypto.randomUUID().slice(0, 4)}`;
    const fivexx: string[] = [];
    const check = (what: string, r: { status: number; body: any }) => {
      if (r.status >= 500) fivexx.push(`${what} → ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      return r;
    };
    const thrown: string[] = [];
    const guard = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        thrown.push(`${what}: ${String((e as Error)?.message ?? e)}`);
      }
    };

    // ---- the market: 3 providers × 3 nodes, 8 renters --------------------------------------
    const providers = await Promise.all(Array.from({ length: 3 }, () => register("provider")));
    const nodes: { id: string; provider: Account }[] = [];
    for (const p of providers) {
      for (let i = 0; i < 3; i++) {
        const n = await registerNode(p, {
          region,
          total_ram_gb: 32,
          total_vram_gb: 8,
          price_per_gb_sec: 0.00001 * (1 + i),
          max_duration_sec: 7200,
          egress_price_per_gb: 0.01,
        });
        nodes.push({ id: n.id, provider: p });
      }
      const acct = `acct_1${crypto.randomUUID().replaceAll("-", "").slice(0, 14)}`;
      expect((await api("PUT", "/api/billing/payout-account", { token: p.token, body: { stripe_account_id: acct } })).status).toBe(200);
    }
    const renters = await Promise.all(Array.from({ length: 8 }, () => register()));
    await Promise.all(renters.map((r) => credit(r.id, 20)));
    const contracts: { id: string; renter: Account }[] = [];
    const payments: { piId: string; txId: string; cents: number }[] = [];
    const stub = env.REGION_CLUSTER.get(env.REGION_CLUSTER.idFromName(region));
    const tick = () => guard("alarm", () => runDurableObjectAlarm(stub));
    const counts: Record<string, number> = {};

    const ops: Record<string, [number, () => Promise<unknown>]> = {
      create: [
        24,
        async () => {
          const renter = pick(renters)!;
          const node = pick(nodes)!;
          const r = check(
            "create",
            await api("POST", "/api/contracts/create", {
              token: renter.token,
              body: {
                node_id: node.id,
                ram_gb: 1 + Math.floor(rnd() * 6),
                vram_gb: Math.floor(rnd() * 2),
                duration_sec: 60 + Math.floor(rnd() * 600),
                auto_renew: rnd() < 0.3,
              },
            }),
          );
          if (r.status === 201) contracts.push({ id: r.body.contract.id, renter });
        },
      ],
      activate: [
        9,
        async () => {
          const node = pick(nodes)!;
          await env.DB.prepare(`UPDATE nodes SET last_heartbeat_at = last_heartbeat_at - 40000 WHERE id = ?`).bind(node.id).run();
          const hb = check(
            "heartbeat",
            await api("POST", `/api/nodes/${node.id}/heartbeat`, {
              token: node.provider.token,
              body: { available_ram_gb: 32, available_vram_gb: 8 },
            }),
          );
          // The node's agent makes most of what it was given ready (billing starts) and rejects the rest.
          const pending = ((hb.body?.contracts ?? []) as { id: string; status: string }[]).filter((c) => c.status === "pending");
          for (const c of pending) {
            if (rnd() < 0.85)
              check("ready", await api("POST", `/api/nodes/${node.id}/contracts/${c.id}/ready`, { token: node.provider.token }));
            else
              check(
                "reject",
                await api("POST", `/api/nodes/${node.id}/contracts/${c.id}/reject`, {
                  token: node.provider.token,
                  body: { reason: "property test" },
                }),
              );
          }
        },
      ],
      extend: [
        12,
        async () => {
          const k = pick(contracts);
          if (k)
            check(
              "extend",
              await api("POST", `/api/contracts/${k.id}/extend`, {
                token: k.renter.token,
                body: { additional_sec: 30 + Math.floor(rnd() * 300) },
              }),
            );
        },
      ],
      settle: [
        12,
        async () => {
          const k = pick(contracts);
          if (k)
            check(
              "settle",
              await api("POST", `/api/contracts/${k.id}/settle`, {
                token: k.renter.token,
                body: rnd() < 0.3 ? { actual_egress_gb: Math.floor(rnd() * 3000) / 1000 } : {},
              }),
            );
        },
      ],
      cancel: [
        6,
        async () => {
          const k = pick(contracts);
          if (k) check("cancel", await api("POST", `/api/contracts/${k.id}/cancel`, { token: k.renter.token }));
        },
      ],
      nodeFailure: [
        2,
        async () => {
          const node = pick(nodes)!;
          await env.DB.prepare(`UPDATE nodes SET last_heartbeat_at = ? WHERE id = ?`)
            .bind(Date.now() - 3_600_000, node.id)
            .run();
          await tick();
        },
      ],
      renewal: [
        5,
        async () => {
          const k = await env.DB.prepare(
            `SELECT id FROM contracts WHERE region = ? AND status = 'active' AND ended_at IS NULL ORDER BY auto_renew DESC, RANDOM() LIMIT 1`,
          )
            .bind(region)
            .first<{ id: string }>();
          if (!k) return;
          // The term ran out a second ago; the region's clock renews, graces or ends it.
          await env.DB.prepare(`UPDATE contracts SET start_time = ?1 - term_sec * 1000, end_time = ?1 WHERE id = ?2 AND ended_at IS NULL`)
            .bind(Date.now() - 1000, k.id)
            .run();
          await tick();
        },
      ],
      topup: [
        2,
        async () => {
          const renter = pick(renters)!;
          const cents = 100 + Math.floor(rnd() * 900);
          const r = check(
            "topup",
            await api("POST", "/api/payments/create", {
              token: renter.token,
              body: { payment_method: "stripe", amount_usd: cents / 100, stripe_token: "pm_card_visa" },
            }),
          );
          if (r.status === 201) payments.push({ piId: r.body.transaction.stripe_payment_id, txId: r.body.transaction.id, cents });
        },
      ],
      credit: [
        2,
        async () => {
          const renter = pick(renters)!;
          check(
            "credit",
            await api("POST", "/api/admin/credits", {
              token: (await adminAccount()).token,
              body: { user_id: renter.id, amount_usd: 1 + Math.floor(rnd() * 5), reason: "property test" },
            }),
          );
        },
      ],
      payout: [
        3,
        async () => {
          check("payout", await api("POST", "/api/billing/payouts", { token: pick(providers)!.token }));
        },
      ],
      webhookReplay: [
        3,
        async () => {
          const p = pick(payments);
          if (!p) return;
          const event = {
            id: rnd() < 0.5 ? `evt_replay_${p.piId}` : `evt_${crypto.randomUUID().replaceAll("-", "")}`,
            type: "payment_intent.succeeded",
            data: {
              object: {
                object: "payment_intent",
                currency: "usd",
                id: p.piId,
                amount: p.cents,
                amount_received: p.cents,
                status: "succeeded",
                metadata: { transaction_id: p.txId },
              },
            },
          };
          check("webhook", await deliverEvent(event));
        },
      ],
      redelivery: [
        6,
        async () => {
          const k = pick(contracts);
          if (!k) return;
          const ctx = createExecutionContext();
          const batch = createMessageBatch("mnemo-settlement", [
            {
              id: `redeliver-${crypto.randomUUID()}`,
              timestamp: new Date(),
              attempts: 1 + Math.floor(rnd() * 4),
              body: { contract_id: k.id },
            },
          ]);
          await guard("queue", async () => {
            await worker.queue(batch as any, env);
            const res = await getQueueResult(batch, ctx);
            if (res.retryMessages.length) thrown.push(`queue asked to retry ${k.id}`);
          });
        },
      ],
      tick: [3, tick],
    };
    const table = Object.entries(ops).flatMap(([name, [w]]) => Array.from({ length: w }, () => name));

    // ---- the workload, WIDTH operations at a time --------------------------------------------
    for (let done = 0; done < OPS; done += WIDTH) {
      const round = Array.from({ length: Math.min(WIDTH, OPS - done) }, () => pick(table)!);
      for (const name of round) counts[name] = (counts[name] ?? 0) + 1;
      await Promise.all(round.map((name) => guard(name, ops[name][1])));
    }

    // ---- drain: end everything, let the queue and the reconciler settle it -------------------
    for (let pass = 0; pass < 6; pass++) {
      const open = (
        await env.DB.prepare(`SELECT k.id, k.client_user_id FROM contracts k WHERE k.region = ? AND k.ended_at IS NULL`)
          .bind(region)
          .all<{ id: string; client_user_id: string }>()
      ).results;
      if (!open.length) break;
      await Promise.all(
        open.map((k) =>
          api("POST", `/api/contracts/${k.id}/settle`, { token: renters.find((r) => r.id === k.client_user_id)!.token }).then((r) =>
            check("drain settle", r),
          ),
        ),
      );
    }
    const until = Date.now() + 30_000;
    for (;;) {
      const left = await env.DB.prepare(
        `SELECT COUNT(*) AS n FROM contracts WHERE region = ? AND (ended_at IS NULL OR charged_micro IS NULL)`,
      )
        .bind(region)
        .first<{ n: number }>();
      if (left!.n === 0 || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    const why = `seed ${SEED}; operations ${JSON.stringify(counts)}`;
    expect(fivexx, why).toEqual([]);
    expect(thrown, why).toEqual([]);
    expect(contracts.length, why).toBeGreaterThan(50);

    // ---- the books ---------------------------------------------------------------------------
    const ids = (xs: Account[]) => xs.map((x) => `'${x.id}'`).join(",");
    const one = async (sql: string) => (await env.DB.prepare(sql).first<{ n: number }>())!.n;
    const sum = (kind: string, who: Account[]) =>
      one(`SELECT COALESCE(SUM(amount_micro), 0) AS n FROM ledger_entries WHERE kind = '${kind}' AND user_id IN (${ids(who)})`);
    const inRegion = `contract_id IN (SELECT id FROM contracts WHERE region = '${region}')`;
    const topups = await sum("topup", renters);
    const credits = await sum("credit", renters);
    const payouts = -(await sum("payout", providers));
    const balances = await one(`SELECT COALESCE(SUM(balance_micro), 0) AS n FROM clients WHERE user_id IN (${ids(renters)})`);
    const earnings = await one(
      `SELECT COALESCE(SUM(amount_micro), 0) AS n FROM ledger_entries WHERE kind = 'provider_earning' AND ${inRegion}`,
    );
    const fees = await one(`SELECT COALESCE(SUM(amount_micro), 0) AS n FROM ledger_entries WHERE kind = 'platform_fee' AND ${inRegion}`);
    const charges = -(await one(`SELECT COALESCE(SUM(amount_micro), 0) AS n FROM ledger_entries WHERE kind = 'charge' AND ${inRegion}`));
    expect(charges, why).toBeGreaterThan(0);
    expect(topups + credits - payouts, why).toBe(balances + (earnings - payouts) + fees);
    expect(earnings + fees, why).toBe(charges);

    // Nothing held: not on an ended contract, not on a renter's balance.
    expect(
      await one(
        `SELECT COUNT(*) AS n FROM contracts WHERE region = '${region}' AND (ended_at IS NULL OR charged_micro IS NULL OR held_micro != 0)`,
      ),
      why,
    ).toBe(0);
    expect(await one(`SELECT COALESCE(SUM(held_micro), 0) AS n FROM clients WHERE user_id IN (${ids(renters)})`), why).toBe(0);
    // Each top-up credited once, however often its webhook was replayed.
    for (const p of payments)
      expect(await one(`SELECT COUNT(*) AS n FROM ledger_entries WHERE kind = 'topup' AND transaction_id = '${p.txId}'`), why).toBe(1);
    // Each contract charged once, however often its message was redelivered.
    expect(
      await one(
        `SELECT COUNT(*) AS n FROM (SELECT contract_id FROM ledger_entries WHERE kind = 'charge' AND idempotency_key LIKE 'charge:%' AND ${inRegion} GROUP BY contract_id HAVING COUNT(*) > 1)`,
      ),
      why,
    ).toBe(0);

    const v = await api("GET", "/api/billing/ledger/verify", { token: (await adminAccount()).token });
    expect(v.body, why).toMatchObject({ ok: true, first_broken: null });
    // The DO holds nothing for ended contracts.
    expect(
      (await stub.reservationsOf(region)).filter((r) => r.state === "held"),
      why,
    ).toEqual([]);
  });
});
