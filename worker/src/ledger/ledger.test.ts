import { describe, expect, it } from "vitest";
import { adminAccount, api, credit, env, register, registerNode } from "../../test/helpers";
import { GENESIS_HASH, chainHash } from "../domain/ledger";
import { rechainLegacy } from "./rechain";

const verify = async () => {
  const r = await api("GET", "/api/billing/ledger/verify", { token: (await adminAccount()).token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};

// The guard of migration 0004, restored after a test plays the attacker.
const GUARD = `CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger_entries
WHEN NOT (OLD.chain_version = 1 AND NEW.chain_version = 2
  AND NEW.seq IS OLD.seq AND NEW.id IS OLD.id AND NEW.kind IS OLD.kind AND NEW.user_id IS OLD.user_id
  AND NEW.contract_id IS OLD.contract_id AND NEW.transaction_id IS OLD.transaction_id
  AND NEW.amount_micro IS OLD.amount_micro AND NEW.memo IS OLD.memo
  AND NEW.idempotency_key IS OLD.idempotency_key AND NEW.created_at IS OLD.created_at)
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;`;

describe("the ledger's per-account hash chains", () => {
  it("is append-only: updates and deletes are refused by the database itself", async () => {
    const u = await register();
    await credit(u.id, 1);
    const row = await env.DB.prepare(`SELECT seq FROM ledger_entries WHERE user_id = ? ORDER BY seq DESC LIMIT 1`)
      .bind(u.id)
      .first<{ seq: number }>();
    await expect(env.DB.prepare(`UPDATE ledger_entries SET amount_micro = 1 WHERE seq = ?`).bind(row!.seq).run()).rejects.toThrow(
      /append-only/,
    );
    // Even pretending to be the one-time re-chain is refused once an entry is chained per account.
    await expect(
      env.DB.prepare(`UPDATE ledger_entries SET chain_version = 2, hash = 'x' WHERE seq = ?`).bind(row!.seq).run(),
    ).rejects.toThrow(/append-only/);
    await expect(env.DB.prepare(`DELETE FROM ledger_entries WHERE seq = ?`).bind(row!.seq).run()).rejects.toThrow(/append-only/);
  });

  it("chains each account on its own: account_seq counts 1, 2, 3 and prev_hash is the account's previous hash", async () => {
    const a = await register();
    const b = await register();
    await credit(a.id, 1);
    await credit(b.id, 2);
    await credit(a.id, 3);
    await credit(a.id, 4);
    const rows = (
      await env.DB.prepare(`SELECT * FROM ledger_entries WHERE account = ? ORDER BY account_seq`).bind(a.id).all<Record<string, any>>()
    ).results;
    expect(rows.map((r) => r.account_seq)).toEqual([1, 2, 3]);
    expect(rows[0].prev_hash).toBe(GENESIS_HASH);
    expect(rows[1].prev_hash).toBe(rows[0].hash);
    expect(rows[2].prev_hash).toBe(rows[1].hash);
    const own = (await env.DB.prepare(`SELECT * FROM ledger_entries WHERE account = ?`).bind(b.id).first<Record<string, any>>())!;
    expect(own).toMatchObject({ account_seq: 1, prev_hash: GENESIS_HASH });
    // The listing keeps its shape.
    const list = await api("GET", "/api/billing/ledger", { token: a.token });
    expect(list.body.entries[0]).toMatchObject({
      kind: "credit",
      amount_usd: 4,
      contract_id: null,
      hash: rows[2].hash,
      prev_hash: rows[1].hash,
    });
    expect(Object.keys(list.body.entries[0])).toEqual(
      expect.arrayContaining(["id", "kind", "amount_usd", "contract_id", "created_at", "hash", "prev_hash"]),
    );
  });

  it("verifies, names the first broken link per account after tampering, and the platform root pins every head", async () => {
    const u = await register();
    const other = await register();
    await credit(u.id, 3);
    await credit(u.id, 4);
    await credit(other.id, 5);
    const before = await verify();
    expect(before).toMatchObject({ ok: true, first_broken: null, broken_accounts: [] });
    expect(before.entries_checked).toBeGreaterThanOrEqual(3);
    expect(before.root_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(before.head_hash).toBe(before.root_hash);

    const target = await env.DB.prepare(`SELECT seq, amount_micro, hash FROM ledger_entries WHERE account = ? ORDER BY account_seq LIMIT 1`)
      .bind(u.id)
      .first<{ seq: number; amount_micro: number; hash: string }>();
    const otherRow = await env.DB.prepare(`SELECT seq, memo FROM ledger_entries WHERE account = ?`)
      .bind(other.id)
      .first<{ seq: number; memo: string }>();
    // An attacker with database access removes the guard and gives themselves a million dollars.
    await env.DB.exec(`DROP TRIGGER ledger_no_update`);
    try {
      await env.DB.prepare(`UPDATE ledger_entries SET amount_micro = 1000000000000 WHERE seq = ?`).bind(target!.seq).run();
      await env.DB.prepare(`UPDATE ledger_entries SET memo = 'forged' WHERE seq = ?`).bind(otherRow!.seq).run();
      const after = await verify();
      expect(after.ok).toBe(false);
      // One break per account, each its first.
      const mine = after.broken_accounts.find((b: any) => b.account === u.id);
      expect(mine).toMatchObject({ seq: target!.seq, account_seq: 1, reason: "hash_mismatch", actual: target!.hash });
      expect(after.broken_accounts.find((b: any) => b.account === other.id)).toMatchObject({ seq: otherRow!.seq, reason: "hash_mismatch" });
      expect(after.first_broken.seq).toBeLessThanOrEqual(target!.seq);

      // Forging the hash too moves the break to the account's next link, whose prev_hash no longer matches.
      const next = await env.DB.prepare(`SELECT seq FROM ledger_entries WHERE account = ? AND account_seq = 2`)
        .bind(u.id)
        .first<{ seq: number }>();
      await env.DB.prepare(`UPDATE ledger_entries SET hash = ? WHERE seq = ?`).bind(mine.expected, target!.seq).run();
      const forged = await verify();
      expect(forged.broken_accounts.find((b: any) => b.account === u.id)).toMatchObject({
        seq: next!.seq,
        account_seq: 2,
        reason: "prev_hash_mismatch",
      });

      // The overview reports the same verdict.
      const overview = await api("GET", "/api/admin/overview", { token: (await adminAccount()).token });
      expect(overview.body.ledger.ok).toBe(false);
    } finally {
      // Put the rows back and the guard in place, so the rest of the suite sees intact chains.
      await env.DB.prepare(`UPDATE ledger_entries SET amount_micro = ?, hash = ? WHERE seq = ?`)
        .bind(target!.amount_micro, target!.hash, target!.seq)
        .run();
      await env.DB.prepare(`UPDATE ledger_entries SET memo = ? WHERE seq = ?`).bind(otherRow!.memo, otherRow!.seq).run();
      await env.DB.exec(GUARD.replace(/\n/g, " "));
    }
    const intact = await verify();
    expect(intact).toMatchObject({ ok: true, first_broken: null, root_hash: before.root_hash });
    // Any new entry moves its account's head, and so the platform root.
    await credit(other.id, 1);
    expect((await verify()).root_hash).not.toBe(before.root_hash);
  });

  it("re-chains entries written as one platform-wide chain (before migration 0004) into valid per-account chains, once", async () => {
    // A ledger as the single chain wrote it: seq = head + 1, one prev_hash → hash chain across
    // users and the platform, no account, chain_version 1 (the column's default).
    const renter = await register();
    const provider = await register("provider");
    const node = await registerNode(provider);
    const k = await api("POST", "/api/contracts/create", {
      token: renter.token,
      body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 60 },
    });
    expect(k.status).toBe(402); // no money yet; the contract row itself is not needed below
    const contractId = crypto.randomUUID();
    const region = node.region;
    // The fee entry names a contract; its region decides the platform account it lands in.
    await env.DB.prepare(
      `INSERT INTO contracts (id, client_id, client_user_id, node_id, provider_id, region, ram_gb, vram_gb, duration_sec, term_sec, price_nano, total_cost_micro, status, created_at, ended_at, charged_micro)
       VALUES (?, ?, ?, ?, ?, ?, 1, 0, 60, 60, 1000, 100, 'completed', 1, 2, 100)`,
    )
      .bind(contractId, renter.clientId, renter.id, node.id, provider.id, region)
      .run();
    const legacy = [
      { kind: "topup", user: renter.id, amount: 5_000_000, contract: null },
      { kind: "charge", user: renter.id, amount: -100, contract: contractId },
      { kind: "provider_earning", user: provider.id, amount: 95, contract: contractId },
      { kind: "platform_fee", user: null, amount: 5, contract: contractId },
    ];
    let prev = "f".repeat(64); // the old chain's head before these rows: some other user's entry
    const ids: string[] = [];
    for (const [i, e] of legacy.entries()) {
      const id = crypto.randomUUID();
      ids.push(id);
      const hash = await chainHash(prev, {
        account: "legacy",
        accountSeq: i,
        id,
        kind: e.kind as any,
        userId: e.user,
        contractId: e.contract,
        transactionId: null,
        amountMicro: e.amount,
        memo: null,
        idempotencyKey: `legacy:${id}`,
        createdAt: 1000 + i,
      });
      await env.DB.prepare(
        `INSERT INTO ledger_entries (id, kind, user_id, contract_id, transaction_id, amount_micro, memo, idempotency_key, created_at, prev_hash, hash) VALUES (?, ?, ?, ?, NULL, ?, NULL, ?, ?, ?, ?)`,
      )
        .bind(id, e.kind, e.user, e.contract, e.amount, `legacy:${id}`, 1000 + i, prev, hash)
        .run();
      prev = hash;
    }
    expect(await rechainLegacy(env.DB)).toBe(4);
    expect(await rechainLegacy(env.DB)).toBe(0); // idempotent: nothing left to do
    const rows = (
      await env.DB.prepare(`SELECT * FROM ledger_entries WHERE id IN (${ids.map(() => "?").join(",")}) ORDER BY seq`)
        .bind(...ids)
        .all<Record<string, any>>()
    ).results;
    expect(rows.map((r) => [r.account, r.account_seq, r.chain_version])).toEqual([
      [renter.id, 1, 2],
      [renter.id, 2, 2],
      [provider.id, 1, 2],
      [`platform:${region}`, expect.any(Number), 2],
    ]);
    expect(rows[0].prev_hash).toBe(GENESIS_HASH);
    expect(rows[1].prev_hash).toBe(rows[0].hash);
    // Content is untouched; only the chain fields changed.
    expect(rows.map((r) => r.amount_micro)).toEqual([5_000_000, -100, 95, 5]);
    expect(await verify()).toMatchObject({ ok: true, first_broken: null });
    // New money lands after the re-chained entries of the same account.
    await credit(renter.id, 1);
    const head = await env.DB.prepare(
      `SELECT account_seq, prev_hash FROM ledger_entries WHERE account = ? ORDER BY account_seq DESC LIMIT 1`,
    )
      .bind(renter.id)
      .first<{ account_seq: number; prev_hash: string }>();
    expect(head).toEqual({ account_seq: 3, prev_hash: rows[1].hash });
    expect(await verify()).toMatchObject({ ok: true });
  });
});
