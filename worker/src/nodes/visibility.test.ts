import { describe, expect, it } from "vitest";
import { api, adminAccount, credit, register, registerNode } from "../../test/helpers";
import { PUBLIC_NODE_FIELDS } from "../views/nodes";

const PRIVATE = ["provider_id", "metadata", "reported_ram_gb", "reported_vram_gb", "held_ram_gb", "held_vram_gb", "updated_at", "endpoint"];

function expectPublic(node: Record<string, unknown>) {
  expect(Object.keys(node).sort()).toEqual([...PUBLIC_NODE_FIELDS].sort());
  for (const k of PRIVATE) expect(node, k).not.toHaveProperty(k);
}

describe("public node listings leak less", () => {
  it("shows others the allow-listed view and the owner and admins everything", async () => {
    const owner = await register("provider");
    const other = await register("provider");
    const renter = await register("user");
    const admin = await adminAccount();
    const region = "vis-" + crypto.randomUUID().slice(0, 6);
    const node = await registerNode(owner, { region, ...({ metadata: { owner_note: "rack 7, door code 1234" } } as object) });
    expect(node.metadata).toEqual({ owner_note: "rack 7, door code 1234" }); // the owner's own registration answer

    // Public, unauthenticated: the region's node list.
    const pub = await api("GET", `/api/clusters/${region}/nodes`);
    expect(pub.body.nodes).toHaveLength(1);
    expectPublic(pub.body.nodes[0]);
    expect(JSON.stringify(pub.body)).not.toContain("door code");
    expect(JSON.stringify(pub.body)).not.toContain(owner.id);

    // Marketplace offers never carry the provider either.
    const offers = await api("GET", `/api/marketplace?region=${region}`);
    expect(offers.body.offers).toHaveLength(1);
    expect(JSON.stringify(offers.body)).not.toContain(owner.id);

    // /api/nodes and /api/nodes/{id}: public view for a renter and another provider...
    for (const who of [renter, other]) {
      const list = await api("GET", `/api/nodes?region=${region}`, { token: who.token });
      expectPublic(list.body.nodes[0]);
      const one = await api("GET", `/api/nodes/${node.id}`, { token: who.token });
      expectPublic(one.body.node);
      expect(one.body.earnings).toBeNull();
    }
    // ...the full view for the owner and for admins.
    for (const who of [owner, admin]) {
      const list = await api("GET", `/api/nodes?region=${region}`, { token: who.token });
      expect(list.body.nodes[0]).toMatchObject({
        provider_id: owner.id,
        metadata: { owner_note: "rack 7, door code 1234" },
        held_ram_gb: 0,
      });
      const one = await api("GET", `/api/nodes/${node.id}`, { token: who.token });
      expect(one.body.node).toMatchObject({ provider_id: owner.id, metadata: { owner_note: "rack 7, door code 1234" } });
    }

    // A renter with a contract on the node sees the public view of it there too.
    await credit(renter.id, 10);
    const k = await api("POST", "/api/contracts/create", {
      token: renter.token,
      body: { node_id: node.id, ram_gb: 1, vram_gb: 0, duration_sec: 60 },
    });
    expect(k.status, JSON.stringify(k.body)).toBe(201);
    const seen = await api("GET", `/api/contracts/${k.body.contract.id}`, { token: renter.token });
    expectPublic(seen.body.node);
    const byOwner = await api("GET", `/api/contracts/${k.body.contract.id}`, { token: owner.token });
    expect(byOwner.body.node.provider_id).toBe(owner.id);
  });
});
