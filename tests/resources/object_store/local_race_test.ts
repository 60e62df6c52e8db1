/**
 * The local store under another process's moves (two sensor daemons on one
 * landing folder, found by tests/reliability/two_daemons_test.ts): an object
 * moved or deleted between the listing's walk and its stat is left out of the
 * listing (or heads as absent), never an error that fails the caller.
 */

import assert from "node:assert/strict";
import { LocalObjectStore } from "../../../resources/object_store/local.ts";

Deno.test("local store: listing and head while another store moves the objects away", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_race_" });
  try {
    const reader = new LocalObjectStore({ root });
    const mover = new LocalObjectStore({ root }); // as another process would: its own locks
    await reader.ensureBucket("landing-zone");
    const keys = Array.from({ length: 300 }, (_, i) => `manifests/m${i}.json`);
    for (const key of keys) await reader.put("landing-zone", key, new TextEncoder().encode("{}"));
    let moving = true;
    const moves = (async () => {
      for (const key of keys) {
        await mover.move(
          { bucket: "landing-zone", key },
          { bucket: "landing-zone", key: `archive/${key}` },
        );
      }
      moving = false;
    })();
    let listings = 0;
    let failure: unknown;
    try {
      while (moving) {
        for await (const object of reader.listAll("landing-zone", { prefix: "manifests/" })) {
          await reader.head("landing-zone", object.key);
        }
        listings++;
      }
    } catch (error) {
      failure = error;
    }
    await moves;
    assert.equal(failure, undefined, `the listing failed: ${failure}`);
    assert.ok(listings > 0);
    assert.equal((await reader.list("landing-zone", { prefix: "manifests/" })).objects.length, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
