import { describe, expect, it } from "vitest";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, generateKeyPair } from "jose";
import { api, credit, env, expectError, ready, register, registerNode } from "../../test/helpers";

describe("signed leases", () => {
  it("signs an active contract's lease that verifies offline against the public key set", async () => {
    const p = await register("provider");
    const node = await registerNode(p);
    const renter = await register("user");
    await credit(renter.id, 5);
    const k = (
      await api("POST", "/api/contracts/create", {
        token: renter.token,
        body: { node_id: node.id, ram_gb: 4, vram_gb: 2, duration_sec: 600 },
      })
    ).body.contract;
    expectError(await api("GET", `/api/contracts/${k.id}/lease`, { token: renter.token }), 409, "conflict"); // still pending
    await ready(p, node.id, k.id);

    const r = await api("GET", `/api/contracts/${k.id}/lease`, { token: renter.token });
    expect(r.status).toBe(200);
    const jwks = await api("GET", "/.well-known/jwks.json");
    expect(jwks.body.keys).toHaveLength(1);
    expect(jwks.body.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", kid: r.body.kid });
    expect(jwks.body.keys[0].d).toBeUndefined(); // never the private half
    const { payload, protectedHeader } = await jwtVerify(r.body.lease_token, createLocalJWKSet(jwks.body), {
      issuer: "mnemo",
      audience: node.id,
    });
    expect(protectedHeader).toMatchObject({ alg: "ES256", kid: r.body.kid });
    expect(payload).toMatchObject({ sub: k.id, client_id: renter.clientId, ram_gb: 4, vram_gb: 2 });
    const active = (await api("GET", `/api/contracts/${k.id}`, { token: renter.token })).body.contract;
    expect(payload.exp).toBe(Math.ceil(Date.parse(active.end_time) / 1000));

    // The same key signs the next lease; the stored private key is sealed, not plain JSON.
    const again = await api("GET", `/api/contracts/${k.id}/lease`, { token: renter.token });
    expect(decodeProtectedHeader(again.body.lease_token).kid).toBe(r.body.kid);
    const stored = await env.DB.prepare("SELECT private_jwk_sealed FROM signing_keys").first<{ private_jwk_sealed: string }>();
    expect(stored!.private_jwk_sealed).toMatch(/^v1\./);
    expect(stored!.private_jwk_sealed).not.toContain('"d"');

    // A lease for another node, or signed by anyone else, does not verify.
    await expect(
      jwtVerify(r.body.lease_token, createLocalJWKSet(jwks.body), { issuer: "mnemo", audience: crypto.randomUUID() }),
    ).rejects.toThrow();
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT({ ram_gb: 999 })
      .setProtectedHeader({ alg: "ES256", kid: r.body.kid })
      .setIssuer("mnemo")
      .setSubject(k.id)
      .setAudience(node.id)
      .setExpirationTime("1h")
      .sign(privateKey);
    await expect(jwtVerify(forged, createLocalJWKSet(jwks.body), { issuer: "mnemo", audience: node.id })).rejects.toThrow();

    // Only the renter gets the lease.
    expectError(await api("GET", `/api/contracts/${k.id}/lease`, { token: (await register("user")).token }), 404, "not_found");
    expectError(await api("GET", `/api/contracts/${k.id}/lease`, { token: p.token }), 404, "not_found");
  });
});
