import { describe, expect, it } from "vitest";
import { api, env, expectError, register } from "../../test/helpers";
import { PLATFORM, USDC, balanceOf, chainHead, ethWallet, ledgerOf, provenWallet, putTransfer, randomHex } from "../../test/money";
import { TRANSFER_TOPIC, judgeReceipt } from "./crypto";

const pay = (token: string, body: Record<string, unknown>) =>
  api("POST", "/api/payments/crypto", { token, body: { blockchain: "ethereum", ...body } });

describe("judgeReceipt (pure)", () => {
  const cfg = { platform: "0x" + "11".repeat(20), usdc: "0x" + "22".repeat(20), minConfirmations: 12 };
  const wallet = "0x" + "33".repeat(20);
  const word = (h: string) => "0x" + h.replace(/^0x/, "").padStart(64, "0");
  const receipt = (o: { to?: string; from?: string; amount?: bigint; token?: string; status?: string; block?: number } = {}) => ({
    status: o.status ?? "0x1",
    blockNumber: "0x" + (o.block ?? 100).toString(16),
    logs: [
      {
        address: o.token ?? cfg.usdc,
        topics: [TRANSFER_TOPIC, word(o.from ?? wallet), word(o.to ?? cfg.platform)],
        data: word((o.amount ?? 1_500_000n).toString(16)),
      },
    ],
  });

  it("counts confirmations as head − block + 1 and converts 6-decimal units to micro-USD exactly", () => {
    expect(judgeReceipt(cfg, receipt(), 111n, wallet)).toEqual({ state: "confirmed", confirmations: 12, amountMicro: 1_500_000 });
    expect(judgeReceipt(cfg, receipt(), 110n, wallet)).toMatchObject({ state: "pending", confirmations: 11, amountMicro: 1_500_000 });
    expect(judgeReceipt(cfg, null, 110n, wallet)).toMatchObject({ state: "pending", confirmations: 0 });
    expect(judgeReceipt(cfg, receipt({ amount: 123_456_789_012n }), 200n, wallet)).toMatchObject({ amountMicro: 123_456_789_012 });
  });

  it("fails reverted transactions, other recipients, other tokens, other senders, zero and undeclared amounts", () => {
    expect(judgeReceipt(cfg, receipt({ status: "0x0" }), 200n, wallet)).toMatchObject({
      state: "failed",
      reason: expect.stringMatching(/reverted/),
    });
    expect(judgeReceipt(cfg, receipt({ to: "0x" + "44".repeat(20) }), 200n, wallet)).toMatchObject({
      state: "failed",
      reason: expect.stringMatching(/platform address/),
    });
    expect(judgeReceipt(cfg, receipt({ token: "0x" + "55".repeat(20) }), 200n, wallet)).toMatchObject({ state: "failed" });
    expect(judgeReceipt(cfg, receipt({ from: "0x" + "66".repeat(20) }), 200n, wallet)).toMatchObject({
      state: "failed",
      reason: expect.stringMatching(/wallet_address/),
    });
    expect(judgeReceipt(cfg, receipt({ amount: 0n }), 200n, wallet)).toMatchObject({
      state: "failed",
      reason: expect.stringMatching(/zero/),
    });
    expect(judgeReceipt(cfg, receipt({ amount: 2n ** 60n }), 200n, wallet)).toMatchObject({
      state: "failed",
      reason: expect.stringMatching(/too large/),
    });
    expect(judgeReceipt(cfg, receipt(), 200n, wallet, 2_000_000)).toMatchObject({
      state: "failed",
      reason: expect.stringMatching(/not the declared 2/),
    });
    expect(judgeReceipt(cfg, receipt(), 200n, wallet, 1_500_000)).toMatchObject({ state: "confirmed" });
  });
});

describe("POST /api/payments/crypto (USDC on Ethereum, against a JSON-RPC node)", () => {
  it("credits a confirmed USDC transfer to the platform, exactly, once", async () => {
    const u = await register();
    const head = await chainHead();
    const hash = randomHex(32);
    const wallet = (await provenWallet(u)).address;
    await putTransfer({ hash, from: wallet, to: PLATFORM(), amount: "42123456", blockNumber: head - 20 });
    const r = await pay(u.token, { tx_hash: hash.toUpperCase().replace("0X", "0x"), wallet_address: wallet });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.transaction).toMatchObject({
      status: "completed",
      payment_method: "crypto",
      blockchain: "ethereum",
      tx_hash: hash,
      wallet_address: wallet,
      amount_usd: 42.123456,
      stripe_payment_id: null,
    });
    expect(r.body.confirmations).toBe(21);
    expect(r.body.required_confirmations).toBe(12);
    expect((await balanceOf(u)).balance_usd).toBe(42.123456);
    const entries = await ledgerOf({ transactionId: r.body.transaction.id });
    expect(entries.map((e) => [e.kind, e.amount_micro, e.idempotency_key])).toEqual([["topup", 42_123_456, `topup:eth:${hash}`]]);

    // The same hash again from the same account: the same transaction (200), nothing more credited.
    const again = await pay(u.token, { tx_hash: hash, wallet_address: wallet });
    expect(again.status).toBe(200);
    expect(again.body.transaction.id).toBe(r.body.transaction.id);
    expect((await balanceOf(u)).balance_usd).toBe(42.123456);
    // ...from another account: naming the payer's wallet is 403 (it is not theirs), naming their
    // own verified wallet is 409 (credited already); either way they gain nothing.
    const thief = await register();
    expectError(await pay(thief.token, { tx_hash: hash, wallet_address: wallet }), 403, "forbidden");
    const thiefWallet = (await provenWallet(thief)).address;
    expectError(await pay(thief.token, { tx_hash: hash, wallet_address: thiefWallet }), 409, "conflict");
    expect((await balanceOf(thief)).balance_usd).toBe(0);
  });

  it("stays pending until confirmed, then credits once (re-checked by POSTing the hash again)", async () => {
    const u = await register();
    const head = await chainHead();
    const hash = randomHex(32);
    const wallet = (await provenWallet(u)).address;
    // Not mined yet: no receipt.
    await putTransfer({ hash, from: wallet, to: PLATFORM(), amount: "5000000", blockNumber: head + 1 });
    const unmined = await pay(u.token, { tx_hash: hash, wallet_address: wallet, amount_usd: 5 });
    expect(unmined.status).toBe(201);
    expect(unmined.body.transaction.status).toBe("pending");
    expect(unmined.body.confirmations).toBe(0);

    await chainHead(head + 3); // mined, 3 confirmations
    const few = await pay(u.token, { tx_hash: hash, wallet_address: wallet });
    expect(few.status).toBe(200);
    expect(few.body.transaction).toMatchObject({ id: unmined.body.transaction.id, status: "pending", amount_usd: 5 });
    expect(few.body.confirmations).toBe(3);
    expect((await balanceOf(u)).balance_usd).toBe(0);

    await chainHead(head + 12); // 12 confirmations: enough
    const [a, b] = await Promise.all([
      pay(u.token, { tx_hash: hash, wallet_address: wallet }),
      pay(u.token, { tx_hash: hash, wallet_address: wallet }),
    ]);
    for (const r of [a, b]) {
      expect(r.status).toBe(200);
      expect(r.body.transaction.status).toBe("completed");
    }
    expect((await balanceOf(u)).balance_usd).toBe(5);
    expect((await ledgerOf({ transactionId: unmined.body.transaction.id })).filter((e) => e.kind === "topup")).toHaveLength(1);
  });

  it("fails a transfer to another address, a zero amount, a wrong declared amount and a reverted transaction", async () => {
    const u = await register();
    const head = await chainHead();
    const wallet = (await provenWallet(u)).address;
    const cases = [
      { t: { to: randomHex(20), amount: "1000000" }, reason: /platform address/ },
      { t: { to: PLATFORM(), amount: "0" }, reason: /zero/ },
      { t: { to: PLATFORM(), amount: "1000000" }, declared: 2, reason: /not the declared 2/ },
      { t: { to: PLATFORM(), amount: "1000000", status: 0 as const }, reason: /reverted/ },
      { t: { to: PLATFORM(), amount: "1000000", token: randomHex(20) }, reason: /no USDC transfer/ },
    ];
    for (const c of cases) {
      const hash = randomHex(32);
      await putTransfer({ hash, from: wallet, blockNumber: head - 30, ...c.t });
      const r = await pay(u.token, { tx_hash: hash, wallet_address: wallet, ...(c.declared ? { amount_usd: c.declared } : {}) });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.transaction.status).toBe("failed");
      expect(r.body.failure_reason).toMatch(c.reason);
      // Failed is final: asking again does not re-open it.
      expect((await pay(u.token, { tx_hash: hash, wallet_address: wallet })).body.transaction.status).toBe("failed");
    }
    // A transfer from someone else's wallet cannot be claimed by naming one's own verified wallet:
    // 403, and the claim is not kept (the real sender can still make it).
    const hash = randomHex(32);
    const sender = await register();
    const senderWallet = (await provenWallet(sender)).address;
    await putTransfer({ hash, from: senderWallet, to: PLATFORM(), amount: "1000000", blockNumber: head - 30 });
    expectError(await pay(u.token, { tx_hash: hash, wallet_address: wallet }), 403, "forbidden");
    expect(await env.DB.prepare("SELECT 1 FROM transactions WHERE tx_hash = ?").bind(hash).first()).toBeNull();
    expect((await balanceOf(u)).balance_usd).toBe(0);
    const real = await pay(sender.token, { tx_hash: hash, wallet_address: senderWallet });
    expect(real.status).toBe(201);
    expect(real.body.transaction.status).toBe("completed");
  });

  it("answers solana with 400 unsupported_blockchain and malformed input with validation errors", async () => {
    const u = await register();
    expectError(
      await pay(u.token, {
        blockchain: "solana",
        tx_hash: "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW",
        wallet_address: "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
      }),
      400,
      "unsupported_blockchain",
    );
    expectError(
      await pay(u.token, { blockchain: "bitcoin", tx_hash: randomHex(32), wallet_address: randomHex(20) }),
      400,
      "validation_failed",
    );
    expectError(await pay(u.token, { tx_hash: "0x1234", wallet_address: randomHex(20) }), 400, "validation_failed");
    expectError(await pay(u.token, { tx_hash: randomHex(32), wallet_address: "0xnothex" }), 400, "validation_failed");
    expectError(
      await pay(u.token, { tx_hash: randomHex(32), wallet_address: randomHex(20), amount_usd: 1.0000001 }),
      400,
      "validation_failed",
    );
    expectError(
      await pay(u.token, { tx_hash: randomHex(32), wallet_address: randomHex(20), contract_id: crypto.randomUUID() }),
      404,
      "not_found",
    );
    // A well-formed payment from a wallet the caller never verified: 403, nothing recorded.
    const hash = randomHex(32);
    const unproven = ethWallet().address;
    await putTransfer({ hash, from: unproven, to: PLATFORM(), amount: "1000000", blockNumber: (await chainHead()) - 30 });
    expectError(await pay(u.token, { tx_hash: hash, wallet_address: unproven }), 403, "forbidden");
    expect(await env.DB.prepare("SELECT 1 FROM transactions WHERE tx_hash = ?").bind(hash).first()).toBeNull();
  });
});

describe("wallet proof (EIP-191 personal_sign)", () => {
  it("derives addresses and recovers signers like every Ethereum wallet (a well-known key)", async () => {
    const { addressOfPublicKey, recoverPersonalSigner } = await import("./wallets");
    const { secp256k1 } = await import("@noble/curves/secp256k1.js");
    // Hardhat's first development account: a published key and address.
    const key = Uint8Array.from(Buffer.from("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", "hex"));
    expect(addressOfPublicKey(secp256k1.getPublicKey(key, false))).toBe("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    const w = ethWallet(key);
    expect(w.address).toBe("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    const sig = w.signMessage("hello");
    expect(recoverPersonalSigner("hello", sig)).toBe(w.address);
    expect(recoverPersonalSigner("hellO", sig)).not.toBe(w.address);
    // v as 0/1 is accepted too; anything else, and high-s twins, are not.
    const v01 = sig.slice(0, 130) + (parseInt(sig.slice(130), 16) - 27).toString(16).padStart(2, "0");
    expect(recoverPersonalSigner("hello", v01)).toBe(w.address);
    expect(recoverPersonalSigner("hello", sig.slice(0, 130) + "1d")).toBeNull();
    expect(recoverPersonalSigner("hello", "0x" + "00".repeat(65))).toBeNull();
    const n = secp256k1.Point.CURVE().n;
    const s = BigInt("0x" + sig.slice(66, 130));
    const highS = sig.slice(0, 66) + (n - s).toString(16).padStart(64, "0") + (parseInt(sig.slice(130), 16) === 27 ? "1c" : "1b");
    expect(recoverPersonalSigner("hello", highS)).toBeNull();
  });

  it("verifies only the wallet's own signature of its challenge, once per address across accounts", async () => {
    const u = await register();
    const w = ethWallet();
    const claim = await api("POST", "/api/payments/wallets", {
      token: u.token,
      body: { blockchain: "ethereum", address: w.address.toUpperCase().replace("0X", "0x") },
    });
    expect(claim.status).toBe(201);
    expect(claim.body.wallet).toMatchObject({ address: w.address, verified: false, verified_at: null });
    expect(claim.body.challenge).toContain(u.id);
    expect(claim.body.challenge).toContain(w.address);
    const verify = (token: string, signature: string, id = claim.body.wallet.id) =>
      api("POST", `/api/payments/wallets/${id}/verify`, { token, body: { signature } });
    // Another key's signature, or the right key over another text, is refused.
    expectError(await verify(u.token, ethWallet().signMessage(claim.body.challenge)), 400, "validation_failed");
    expectError(await verify(u.token, w.signMessage(claim.body.challenge + " ")), 400, "validation_failed");
    expectError(await verify(u.token, "0x1234"), 400, "validation_failed");
    // Someone else cannot see or verify this claim.
    const other = await register();
    expectError(await verify(other.token, w.signMessage(claim.body.challenge)), 404, "not_found");
    // A new challenge replaces the old one.
    const again = await api("POST", "/api/payments/wallets", { token: u.token, body: { blockchain: "ethereum", address: w.address } });
    expect(again.body.wallet.id).toBe(claim.body.wallet.id);
    expect(again.body.challenge).not.toBe(claim.body.challenge);
    expectError(await verify(u.token, w.signMessage(claim.body.challenge)), 400, "validation_failed");
    const ok = await verify(u.token, w.signMessage(again.body.challenge));
    expect(ok.status).toBe(200);
    expect(ok.body.wallet.verified).toBe(true);
    expect((await api("GET", "/api/payments/wallets", { token: u.token })).body.wallets).toEqual([ok.body.wallet]);
    // The address now belongs to u: another account cannot even claim it.
    expectError(
      await api("POST", "/api/payments/wallets", { token: other.token, body: { blockchain: "ethereum", address: w.address } }),
      409,
      "conflict",
    );
    expectError(
      await api("POST", "/api/payments/wallets", { token: u.token, body: { blockchain: "solana", address: w.address } }),
      400,
      "unsupported_blockchain",
    );
  });

  it("lets the proven sender take back a hash someone else submitted before it was mined", async () => {
    const head = await chainHead();
    const sender = await register();
    const senderWallet = (await provenWallet(sender)).address;
    const squatter = await register();
    const squatterWallet = (await provenWallet(squatter)).address;
    const hash = randomHex(32);
    await putTransfer({ hash, from: senderWallet, to: PLATFORM(), amount: "7000000", blockNumber: head + 1 }); // in the mempool
    const early = await pay(squatter.token, { tx_hash: hash, wallet_address: squatterWallet });
    expect(early.status).toBe(201);
    expect(early.body.transaction.status).toBe("pending");
    await chainHead(head + 20);
    const r = await pay(sender.token, { tx_hash: hash, wallet_address: senderWallet });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.transaction.status).toBe("completed");
    expect((await balanceOf(sender)).balance_usd).toBe(7);
    expect((await balanceOf(squatter)).balance_usd).toBe(0);
    expectError(await pay(squatter.token, { tx_hash: hash, wallet_address: squatterWallet }), 409, "conflict");
  });
});
