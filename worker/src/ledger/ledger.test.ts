import { describe, expect, it } from "vitest";
import { adminAccount, api, credit, env, register } from "../../test/helpers";

const verify = async () => {
  const r = await api("GET", "/api/billing/ledger/verify", { token: (await adminAccount()).token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};

describe("the ledger's hash chain", () => {
  it("is append-only: updates and deletes are refused by the database itself", async () => {
    const u = await register();
    await credit(u.id, 1);
    const row = await env.DB.prepare(`SELECT seq FROM ledger_entries WHERE user_id = ? ORDER BY seq DESC LIMIT 1`).bind(u.id).first<{ seq: number }>();
    await expect(env.DB.prepare(`UPDATE ledger_entries SET amount_micro = 1 WHERE seq = ?`).bind(row!.seq).run()).rejects.toThrow(/append-only/);
    await expect(env.DB.prepare(`DELETE FROM ledger_entries WHERE seq = ?`).bind(row!.seq).run()).rejects.toThrow(/append-only/);
  });

  it("verifies, then names the first broken link after a row is tampered with", async () => {
    const u = await register();
    await credit(u.id, 3);
    await credit(u.id, 4);
    const before = await verify();
    expect(before).toMatchObject({ ok: true, first_broken: null });
    expect(before.entries_checked).toBeGreaterThanOrEqual(2);

    const target = await env.DB.prepare(`SELECT seq, amount_micro, hash FROM ledger_entries WHERE user_id = ? ORDER BY seq LIMIT 1`).bind(u.id).first<{ seq: number; amount_micro: number; hash: string }>();
    // An attacker with database access removes the guard and gives themselves a million dollars.
    await env.DB.exec(`DROP TRIGGER ledger_no_update`);
    try {
      await env.DB.prepare(`UPDATE ledger_entries SET amount_micro = 1000000000000 WHERE seq = ?`).bind(target!.seq).run();
      const after = await verify();
      expect(after.ok).toBe(false);
      expect(after.first_broken).toMatchObject({ seq: target!.seq, reason: "hash_mismatch", actual: target!.hash });
      expect(after.first_broken.expected).not.toBe(target!.hash);

      // Forging the hash too moves the break to the next link, whose prev_hash no longer matches.
      const next = await env.DB.prepare(`SELECT seq FROM ledger_entries WHERE seq > ? ORDER BY seq LIMIT 1`).bind(target!.seq).first<{ seq: number }>();
      await env.DB.prepare(`UPDATE ledger_entries SET hash = ? WHERE seq = ?`).bind(after.first_broken.expected, target!.seq).run();
      const forged = await verify();
      expect(forged.first_broken).toMatchObject({ seq: next!.seq, reason: "prev_hash_mismatch" });

      // The overview reports the same verdict.
      const overview = await api("GET", "/api/admin/overview", { token: (await adminAccount()).token });
      expect(overview.body.ledger.ok).toBe(false);
    } finally {
      // Put the row back and the guard in place, so the rest of the suite sees an intact chain.
      await env.DB.prepare(`UPDATE ledger_entries SET amount_micro = ?, hash = ? WHERE seq = ?`).bind(target!.amount_micro, target!.hash, target!.seq).run();
      await env.DB.exec(`CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;`);
    }
    expect(await verify()).toMatchObject({ ok: true, first_broken: null });
  });
});
