/**
 * The local store when a bucket's folder is replaced by a file (a user's
 * `mv`, a bad script): every call says so, naming the path and what to do,
 * instead of a raw "File exists (os error 17)" from opening the lake, or
 * "bucket does not exist" (which sensors read as an empty landing zone).
 */

import assert from "node:assert/strict";
import { ResourceError } from "../../../core/errors.ts";
import { LocalObjectStore } from "../../../resources/object_store/local.ts";

Deno.test("local store: a file where a bucket's folder belongs fails every call with bucket_not_a_folder, naming the path; moved away, the bucket works again", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_bucket_" });
  try {
    const store = new LocalObjectStore({ root });
    await store.ensureBucket("data-lake");
    await store.put("data-lake", "a/b.txt", new TextEncoder().encode("kept"));
    await Deno.rename(`${root}/data-lake`, `${root}/saved`);
    await Deno.writeTextFile(`${root}/data-lake`, "not a folder");
    const expectNotAFolder = (error: unknown) => {
      assert.ok(error instanceof ResourceError, String(error));
      assert.equal(error.code, "object_store.bucket_not_a_folder");
      assert.equal(
        error.message.includes(`'${root}/data-lake' is not a folder`),
        true,
        error.message,
      );
      assert.match(error.message, /Move that file away, then run again/);
      assert.equal((error as { retryable?: boolean }).retryable, false);
      return true;
    };
    await assert.rejects(store.ensureBucket("data-lake"), expectNotAFolder);
    await assert.rejects(
      store.put("data-lake", "c.txt", new TextEncoder().encode("x")),
      expectNotAFolder,
    );
    await assert.rejects(store.list("data-lake", { prefix: "a/" }), expectNotAFolder);
    await Deno.remove(`${root}/data-lake`);
    await Deno.rename(`${root}/saved`, `${root}/data-lake`);
    await store.ensureBucket("data-lake");
    assert.equal(new TextDecoder().decode(await store.getBytes("data-lake", "a/b.txt")), "kept");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local store: a bucket folder that cannot be looked at (a loop of links) fails with the file system's reason, not 'bucket does not exist'", async () => {
  // Before: bucket_not_found "bucket 'landing-zone' does not exist. Create it with
  // ensureBucket", which the sensors read as an empty landing zone: nothing said.
  const root = await Deno.makeTempDir({ prefix: "local_bucket_" });
  try {
    const store = new LocalObjectStore({ root });
    await Deno.symlink(`${root}/landing-zone`, `${root}/landing-zone`);
    const expectLoop = (error: unknown) => {
      assert.ok(error instanceof ResourceError, String(error));
      assert.equal(error.code, "object_store.io_failed", error.message);
      assert.ok(error.message.includes(` at ${root}/landing-zone`), error.message);
      assert.match(error.message, /symbolic links/i);
      return true;
    };
    await assert.rejects(store.list("landing-zone", { prefix: "activity/" }), expectLoop);
    await assert.rejects(
      store.put("landing-zone", "a.txt", new TextEncoder().encode("x")),
      expectLoop,
    );
    await assert.rejects(store.getBytes("landing-zone", "a.txt"), expectLoop);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
