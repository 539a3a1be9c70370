#!/usr/bin/env node
// `npm run gen:client`: starts the real worker (wrangler dev, fresh local state), takes the OpenAPI
// document it serves, and rewrites the committed client files from it:
//   agent/src/client/openapi.json   the document, minus `servers`
//   agent/src/client/schema.d.ts    its types (openapi-typescript)
// Deterministic: the same worker code always yields the same two files.
import { writeFileSync } from "node:fs";
import { DOC_PATH, SCHEMA_PATH, renderDoc, renderSchema } from "./lib/openapi-client.mjs";
import { startWorker } from "./lib/worker-server.mjs";

const worker = await startWorker();
let doc;
try {
  const res = await fetch(`${worker.url}/api/openapi.json`);
  if (!res.ok) throw new Error(`GET /api/openapi.json answered ${res.status}`);
  doc = await res.json();
} finally {
  await worker.stop();
}
const json = renderDoc(doc);
writeFileSync(DOC_PATH, json);
writeFileSync(SCHEMA_PATH, await renderSchema(JSON.parse(json)));
console.log(`gen:client: wrote ${DOC_PATH} and ${SCHEMA_PATH} (${Object.keys(doc.paths ?? {}).length} paths)`);
