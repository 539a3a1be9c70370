import { describe, expect, it } from "vitest";
import committed from "../../../agent/src/client/openapi.json";
import { api } from "../../test/helpers";

// The CLI, the agent and the site are typed from agent/src/client/openapi.json. When a route
// changes its shape without `npm run gen:client`, this fails, before a renter's script does.
// (agent/test/client.test.ts checks that schema.d.ts is openapi-typescript's output for that file.)
describe("the committed client document", () => {
  it("equals the OpenAPI document the worker serves (run `npm run gen:client` after changing a route)", async () => {
    const r = await api("GET", "/api/openapi.json");
    expect(r.status).toBe(200);
    const { servers: _servers, ...served } = r.body as Record<string, unknown>;
    // Compared as JSON text (key order included) so the committed file is exactly what the generator writes.
    expect(JSON.stringify(served, null, 2)).toBe(JSON.stringify(committed, null, 2));
  });
});
