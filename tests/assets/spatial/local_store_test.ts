/**
 * The sample batch through `group:spatial` on the local object store, where
 * staging and publishing link files instead of copying them
 * (`ObjectStore.getFile` / `putFile`): the user's landing files are never
 * changed (GDAL only reads its staged names), the lake objects are exactly
 * the bytes their ledger documents hash, and no file is shared between what
 * the user uploaded and what the pipeline wrote.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { LocalObjectStore } from "../../../resources/object_store/local.ts";
import { LAKE, LANDING, runBatch, SAMPLE_DIR, sampleManifest } from "./_fixtures.ts";
import { engines } from "./_batches.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Inodes of every file under `dir`, by path. */
async function inodes(dir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = `${at}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile) found.set(path, (await Deno.stat(path)).ino!);
    }
  };
  await walk(dir);
  return found;
}

for (const [kind, gdal] of engines) {
  Deno.test(`local store (${kind}): landing files untouched, lake objects match the ledger, nothing shared`, async () => {
    const root = await Deno.makeTempDir({ prefix: "spatial-local-" });
    try {
      await using store = new LocalObjectStore({ root, durable: false });
      const ledger = new MemoryLedger();
      await store.ensureBucket(LANDING);
      const batch = `local-${kind}`;
      const uploaded = new Map<string, string>();
      const dir = new URL("montana-sample/", SAMPLE_DIR);
      for await (const entry of Deno.readDir(dir)) {
        const bytes = await Deno.readFile(new URL(entry.name, dir));
        await store.put(LANDING, `${batch}/${entry.name}`, bytes);
        uploaded.set(entry.name, sha256(bytes));
      }
      const manifest = await sampleManifest();
      manifest.batch_id = batch;
      manifest.files = (manifest.files as { path: string }[]).map((f) => ({
        ...f,
        path: f.path.replace("montana-sample/", `${batch}/`),
      }));
      await store.put(
        LANDING,
        `manifests/${batch}.json`,
        new TextEncoder().encode(JSON.stringify(manifest)),
      );

      const result = await runBatch({ store, ledger }, batch, {}, { gdal });
      assert.equal(result.status, "success", JSON.stringify(result.steps.map((s) => s.error)));

      // Archived, byte for byte as uploaded (GDAL wrote nothing through a staged name).
      for (const [name, hash] of uploaded) {
        const key = `archive/${batch}/${name}`;
        assert.equal(sha256(await store.getBytes(LANDING, key)), hash, name);
        assert.equal((await store.head(LANDING, key))?.sha256, hash, `${name}: sidecar`);
      }
      // Every output: its bytes are what the ledger hashed, and its document names the sources' hashes.
      const docs = await ledger.findByRun(result.runId);
      const outputs = docs.filter((d) => d.batch_id === batch);
      assert.equal(outputs.length, 4, outputs.map((d) => d.key).join(", "));
      for (const doc of outputs) {
        assert.equal(sha256(await store.getBytes(LAKE, doc.key)), doc.sha256, doc.key);
        const sources = (doc.metadata as { source_files: { key: string; sha256: string }[] })
          .source_files;
        for (const source of sources) {
          assert.equal(source.sha256, uploaded.get(source.key.split("/").pop()!), source.key);
        }
      }
      // No file of the lake shares its inode with one of the landing zone (or its archive).
      const landing = new Set((await inodes(`${root}/${LANDING}`)).values());
      for (const [path, ino] of await inodes(`${root}/${LAKE}`)) {
        assert.ok(!landing.has(ino), `${path} shares its file with a landing file`);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
