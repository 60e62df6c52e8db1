/**
 * A spatial batch whose scratch folder (in TMPDIR) is on a full disk (its own
 * tmpfs): `disk_full` naming the scratch folder and the batch, nothing
 * published to the lake or the ledger, and the batch published once after.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DiskFullError } from "../../../core/mod.ts";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import type { GdalEngine } from "../../../resources/spatial/gdal.ts";
import { rejected } from "../../_helpers/assert_errors.ts";
import { mountTmpfs, tmpfsSkip } from "../../_helpers/tmpfs.ts";
import { batchRun, LAKE, sampleLanding } from "./_fixtures.ts";

const NO_TMPFS = await tmpfsSkip();

Deno.test(
  "vector batch with a full scratch disk: disk_full naming TMPDIR's folder, nothing published, published once after",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(1024 * 1024);
    const landing = await sampleLanding("full1");
    await using _store = landing.store;
    const real = batchRun(landing, "full1");
    // gdal3.js's scratch, with the files staged for it written to the full disk.
    const gdal: GdalEngine = Object.create(real.gdal, {
      createScratch: {
        value: async () => {
          const scratch = await real.gdal.createScratch();
          const hostDir = join(disk.path, "gdal-job");
          return Object.assign(Object.create(scratch), {
            hostDir,
            hostPath: (relative: string) => join(hostDir, relative),
            [Symbol.asyncDispose]: () => scratch[Symbol.asyncDispose](),
          });
        },
      },
    });
    await disk.fill(0);
    const error = await rejected(() => processVectorBatch({ ...real, gdal }), DiskFullError);
    assert.equal(error.code, "disk_full");
    assert.match(
      error.message,
      /^no space left on device writing the spatial scratch folder '.*\/gdal-job' \(in TMPDIR\) for batch 'full1': free space on the disk holding '/,
    );
    // The lake bucket is not even made: nothing was published.
    const lake = await landing.store.list(LAKE).then((page) => page.objects, (error) => {
      if ((error as { code?: string }).code === "object_store.bucket_not_found") return [];
      throw error;
    });
    assert.deepEqual(lake, []);
    assert.deepEqual(await landing.ledger.findByBatch("full1"), []);
    await disk.free();
    const outputs = await processVectorBatch(real);
    assert.equal(outputs.length, 3);
    assert.equal((await landing.ledger.findByBatch("full1")).length, 3);
  },
);
