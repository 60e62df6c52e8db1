/**
 * Archiving a batch on the local store: the batch's landing folder (and its
 * sidecar folder) goes once the batch is archived, the folders uploaders
 * write into (`manifests/`) stay, and a folder that still holds a file stays.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { archiveFiles, loadBatch } from "../../../assets/spatial/_batch.ts";
import { LocalObjectStore } from "../../../resources/object_store/local.ts";
import { LANDING, SAMPLE_DIR, sampleLanding } from "./_fixtures.ts";

async function localLanding(root: string, batchId: string) {
  const store = new LocalObjectStore({ root });
  return (await sampleLanding(batchId, (m) => m, store)).store;
}

const isFolder = (path: string) => Deno.stat(path).then((info) => info.isDirectory, () => false);

Deno.test("archiving a batch on the local store removes its emptied landing folder, never manifests/", async () => {
  const root = await Deno.makeTempDir({ prefix: "archive_folders_" });
  try {
    const store = await localLanding(root, "b1");
    const batch = await loadBatch(store, LANDING, "b1", "run-b1");
    await archiveFiles(store, LANDING, batch, batch.manifest.files);
    assert.equal(await isFolder(join(root, LANDING, "b1")), false, "the batch folder is gone");
    assert.equal(await isFolder(join(root, ".meta", LANDING, "b1")), false, "its sidecars' too");
    // The manifests folder is empty now, but uploaders write into it: it stays.
    assert.equal(await isFolder(join(root, LANDING, "manifests")), true);
    assert.deepEqual(
      (await store.list(LANDING, { delimiter: "/" })).prefixes,
      ["archive/"],
    );
    const archived = await Array.fromAsync(store.listAll(LANDING, { prefix: "archive/b1/" }));
    const uploaded = await Array.fromAsync(
      Deno.readDir(new URL("montana-sample/", SAMPLE_DIR)),
    );
    assert.equal(archived.length, uploaded.length + 1, "every file and the manifest");
    // Archiving again (a re-run after a crash) finds nothing to do and fails on nothing.
    await archiveFiles(store, LANDING, { ...batch, archived: true }, batch.manifest.files);
    // A batch id used again later: its new upload makes the folder again.
    await store.put(LANDING, "b1/again.geojson", new TextEncoder().encode("{}"));
    assert.equal(await isFolder(join(root, LANDING, "b1")), true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("archiving a batch leaves its landing folder when a file not in its manifest is still there", async () => {
  const root = await Deno.makeTempDir({ prefix: "archive_folders_" });
  try {
    const store = await localLanding(root, "b2");
    await store.put(
      LANDING,
      "b2/notes/readme.txt",
      new TextEncoder().encode("not in the manifest"),
    );
    const batch = await loadBatch(store, LANDING, "b2", "run-b2");
    await archiveFiles(store, LANDING, batch, batch.manifest.files);
    assert.ok(await store.head(LANDING, "archive/b2/manifest.json"));
    assert.ok(await store.head(LANDING, "b2/notes/readme.txt"), "the stray file stays");
    assert.equal(await isFolder(join(root, LANDING, "b2", "notes")), true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
