/** ETags: the hash of a body is stable, and a client holding it gets a 304. */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Hono } from "hono";
import { etagged, hashText } from "../../ui/etag.ts";

// A client's cached copy is valid while the ETag is the same: the digits must not change with
// the implementation. The expected values are pinned literals (written by the
// Number#toString(16) implementation this one replaced, zero-padded to 14 digits), not a second
// copy of the algorithm: a copy would drift with the product or hide which of the two changed.
Deno.test("hashText gives pinned 14 hex digits (the same body keeps its ETag across restarts)", () => {
  const pinned: ReadonlyArray<readonly [string, string]> = [
    ["", "0bdcb81aee8d83"],
    ["a", "1c2ba782c97901"],
    ["model.jaffle_shop.orders", "0d8e9ecb517984"],
    ["models/schema.yml:not_null_orders_id", "1d4cf2e368fea3"],
    ["é漢字😀", "0b5ab5a08425e7"],
  ];
  for (const [text, hash] of pinned) assert.equal(hashText(text), hash, text);
  // 20k texts, pinned through one digest of all their hashes.
  const all = createHash("sha256");
  for (let i = 0; i < 20_000; i++) {
    const hash = hashText(
      `models/layer_${i % 10}/schema.yml:not_null_m_${i}_id${"é".repeat(i % 3)}`,
    );
    assert.match(hash, /^[0-9a-f]{14}$/);
    all.update(`${hash}\n`);
  }
  assert.equal(
    all.digest("hex"),
    "4744ede3603852abcc6a466e63a802e3f98af7bdb76fdd630524c6460366193e",
  );
});

Deno.test("etagged: the same body with its ETag is a 304 without a body; another body is a 200", async () => {
  const app = new Hono();
  let body = "first";
  app.get("/", (c) => etagged(c, body, "text/plain"));
  const first = await app.request("/");
  assert.equal(first.status, 200);
  const etag = first.headers.get("etag");
  assert.equal(etag, `"${hashText("first")}"`);
  assert.equal(await first.text(), "first");
  const again = await app.request("/", { headers: { "if-none-match": `"x", ${etag}` } });
  assert.equal(again.status, 304);
  assert.equal(await again.text(), "");
  body = "second";
  const changed = await app.request("/", { headers: { "if-none-match": etag ?? "" } });
  assert.equal(changed.status, 200);
  assert.equal(await changed.text(), "second");
});
