/**
 * The ledger pages never hide a ledger failure: a corrupt document, a ledger
 * that is down or will not open each show as an error naming the document
 * (page and API), and only a document the ledger does not have is a 404.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { defineGraph } from "../../core/definitions.ts";
import { ResourceError } from "../../core/errors.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { MemoryLedger } from "../../resources/ledger/memory.ts";
import type { Ledger } from "../../resources/ledger/types.ts";
import { MemoryObjectStore } from "../../resources/object_store/memory.ts";
import { serveUi } from "../../ui/serve.ts";

const encoder = new TextEncoder();

async function serverWith(openLedger: () => Promise<Ledger>, lake?: MemoryObjectStore) {
  return await serveUi({
    graph: defineGraph({ assets: [] }),
    store: new MemoryRunStore(),
    port: 0,
    sources: {
      openLedger,
      ...(lake ? { openLake: () => Promise.resolve(lake) } : {}),
    },
  });
}

Deno.test("ledger pages: a corrupt stored document is an error naming it and its bad field, on the page, the API and the object page", async () => {
  const raw = new Map<string, unknown>();
  const ledger = new MemoryLedger({ store: raw });
  const lake = new MemoryObjectStore();
  await lake.ensureBucket("data-lake");
  const put = await lake.put("data-lake", "out/a.json", encoder.encode("{}"));
  const doc = await ledger.upsert({
    bucket: "data-lake",
    key: "out/a.json",
    sha256: put.sha256,
    size: put.size,
    run_id: "run-1",
    asset_key: "a",
    partition: null,
    format: "json",
    metadata: {},
  });
  // The object points at its document, as the lake writer records it.
  await lake.put("data-lake", "out/a.json", encoder.encode("{}"), {
    metadata: { mongodb_doc_id: doc.id },
  });
  raw.set(doc.id, { ...doc, sha256: "not-a-hash" });
  await using server = await serverWith(() => Promise.resolve(ledger), lake);

  const res = await fetch(`${server.url}/lake/doc/${doc.id}`);
  assertEquals(res.status, 500);
  const page = await res.text();
  assert(page.includes(doc.id), "the page names the document");
  assertMatch(page, /data-ledger-error="ui.ledger_document_unreadable"/);
  assertMatch(page, /ledger.corrupt_document/);
  assertMatch(page, /<th class="mono">sha256<\/th>/);

  const api = await fetch(`${server.url}/api/ledger/${doc.id}`);
  assertEquals(api.status, 500);
  const body = await api.json();
  assertEquals(
    [body.error, body.document, body.ledgerCode],
    ["ui.ledger_document_unreadable", doc.id, "ledger.corrupt_document"],
  );
  assertEquals(body.issues.map((i: { field: string }) => i.field), ["sha256"]);
  assertMatch(body.message, new RegExp(doc.id));

  // The object page shows the failure where the lineage would be, not "no ledger document".
  const object = await (await fetch(
    `${server.url}/lake/object?bucket=data-lake&key=out/a.json`,
  )).text();
  assertMatch(object, /data-ledger-error="ui.ledger_document_unreadable"/);
  assert(object.includes(doc.id));
  const objectApi = await fetch(`${server.url}/api/lake/object?bucket=data-lake&key=out/a.json`);
  assertEquals(objectApi.status, 500);
  assertEquals((await objectApi.json()).document, doc.id);

  // Unknown ids stay a plain 404 naming the id.
  const missing = await fetch(`${server.url}/lake/doc/no-such-doc`);
  assertEquals(missing.status, 404);
  assertMatch(await missing.text(), /no document &#39;no-such-doc&#39;|no document 'no-such-doc'/);
  const missingApi = await fetch(`${server.url}/api/ledger/no-such-doc`);
  assertEquals([missingApi.status, (await missingApi.json()).error], [404, "unknown_document"]);
});

Deno.test("ledger pages: a ledger that is down or will not open is a 503 naming the document, and the next request tries again", async () => {
  let fail = true;
  const ledger = new MemoryLedger();
  const doc = await ledger.upsert({
    bucket: "data-lake",
    key: "out/b.json",
    sha256: "a".repeat(64),
    size: 2,
    run_id: "run-2",
    asset_key: "b",
    partition: null,
    format: "json",
    metadata: {},
  });
  await using server = await serverWith(() =>
    fail
      ? Promise.reject(
        new ResourceError(
          "ledger.unreachable",
          "Cannot reach the ledger at mongodb://ledger:27017",
          {
            resourceKey: "ledger",
          },
        ),
      )
      : Promise.resolve(ledger)
  );
  const down = await fetch(`${server.url}/lake/doc/${doc.id}`);
  assertEquals(down.status, 503);
  const text = await down.text();
  assertMatch(text, /data-ledger-error="ui.ledger_unavailable"/);
  assert(text.includes(doc.id) && text.includes("mongodb://ledger:27017"));
  const api = await fetch(`${server.url}/api/ledger/${doc.id}`);
  assertEquals(api.status, 503);
  assertEquals((await api.json()).ledgerCode, "ledger.unreachable");

  fail = false; // the ledger is back: nothing was cached from the failed open
  const up = await fetch(`${server.url}/lake/doc/${doc.id}`);
  assertEquals(up.status, 200);
  assert((await up.text()).includes("out/b.json"));

  // A ledger that fails on read (closed under us) is also an error, never an empty page.
  await ledger[Symbol.asyncDispose]();
  const closed = await fetch(`${server.url}/lake/doc/${doc.id}`);
  assertEquals(closed.status, 503);
  assertMatch(await closed.text(), /ledger.closed/);
});
