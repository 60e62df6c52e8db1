/**
 * Batches of generated files through the spatial assets, for the tests of
 * real-world inputs (inputs_test.ts, real_world_test.ts): a memory landing
 * zone holding the uploads and their manifest, and the two end states a
 * batch may reach (done and archived, or quarantined with nothing published).
 */

import assert from "node:assert/strict";
import type { RunResult } from "../../../core/executor.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import type { GdalEngine } from "../../../resources/spatial/gdal.ts";
import { nativeGdal, nativeGdalVersion } from "../../../resources/spatial/gdal_native.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { LAKE, LANDING } from "./_fixtures.ts";

/** The version of the machine's libgdal, when the native engine can run here. */
export const NATIVE = await nativeGdalVersion();

/** Runs a command that must succeed (Debian's GDAL tools make the test data). */
export async function sh(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args }).output();
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A file of a batch. */
export interface Upload {
  /** File name inside the batch folder. */
  name: string;
  /** Local file to upload. */
  from: string;
  type: "vector" | "raster";
  format: string;
  crs: string;
  open_options?: string[];
}

/** A memory landing zone holding `uploads` (and any extra sidecar files) under `batch`. */
export async function landing(batch: string, uploads: Upload[], extra: [string, string][] = []) {
  const store = new MemoryObjectStore();
  await store.ensureBucket(LANDING);
  for (const u of uploads) {
    await store.put(LANDING, `${batch}/${u.name}`, await Deno.readFile(u.from));
  }
  for (const [name, from] of extra) {
    await store.put(LANDING, `${batch}/${name}`, await Deno.readFile(from));
  }
  const manifest = {
    batch_id: batch,
    uploader: "tests@example.org",
    intent: "publish",
    files: uploads.map(({ name, from: _from, ...rest }) => ({ path: `${batch}/${name}`, ...rest })),
    metadata: { project: "inputs", description: "generated test data" },
  };
  await store.put(
    LANDING,
    `manifests/${batch}.json`,
    new TextEncoder().encode(JSON.stringify(manifest)),
  );
  return { store, ledger: new MemoryLedger() };
}

/** A landing zone made by {@linkcode landing}. */
export type Landing = Awaited<ReturnType<typeof landing>>;

/** Step status by asset key. */
export function statusOf(result: RunResult) {
  return Object.fromEntries(result.steps.map((s) => [s.assetKey, s.status]));
}

/** The quarantine report of `batch`. */
export async function report(l: Landing, batch: string) {
  const bytes = await l.store.getBytes(LANDING, `quarantine/${batch}.error.json`);
  return JSON.parse(new TextDecoder().decode(bytes)) as {
    problems: { code: string; message: string; file?: string }[];
  };
}

/** Asserts the batch was quarantined with nothing in the lake; returns its problems. */
export async function assertQuarantined(l: Landing, batch: string, result: RunResult) {
  assert.equal(result.status, "failed");
  assert.equal(statusOf(result)["spatial/batch_archive"], "skipped");
  assert.equal(await l.store.head(LANDING, `manifests/${batch}.json`), undefined);
  assert.ok(await l.store.head(LANDING, `quarantine/${batch}.json`));
  const lake = await Array.fromAsync(l.store.listAll(LAKE)).catch(() => []);
  assert.deepEqual(lake, [], "nothing may stay published");
  assert.deepEqual(await l.ledger.findByBatch(batch), []);
  const { problems } = await report(l, batch);
  for (const p of problems) {
    assert.doesNotMatch(
      p.message,
      /\[object Object\]|Pointer '\w+' is NULL|\/output\/job-|in\d+\//,
    );
  }
  return problems;
}

/** Asserts the batch succeeded and was archived; returns the ledger documents. */
export async function assertDone(l: Landing, batch: string, result: RunResult) {
  assert.equal(result.status, "success", result.errorSummary ?? JSON.stringify(statusOf(result)));
  assert.ok(await l.store.head(LANDING, `archive/${batch}/manifest.json`));
  return await l.ledger.findByBatch(batch);
}

/** The GDAL engines reachable here: gdal3.js, and the native one when libgdal loads. */
export const engines: [string, GdalEngine][] = [["wasm", wasmGdal]];
if (NATIVE) engines.push(["native", nativeGdal(NATIVE)]);
