/**
 * The spatial pipeline with its lake on a real S3 implementation besides
 * s3rver: OpenStack Swift's s3api (#15 item 12). A raster batch whose landing
 * file and COG output are larger than one part goes through multipart
 * uploads, a server-side copy of a multipart object (the archive) and the
 * lineage check; on Swift the outputs lost their `sha256` (the self-copy got
 * 412) and `mongodb_doc_id` (it came back as `mongodb-doc-id`), and the batch
 * was archived anyway.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeArrayBuffer } from "geotiff";
import { S3ObjectStore } from "../../../resources/object_store/mod.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import {
  LAKE,
  LANDING,
  runBatch,
  SAMPLE_DIR,
  sampleManifest,
} from "../../assets/spatial/_fixtures.ts";
import { startSwift } from "../../_helpers/swift.ts";
import { needs } from "../../_helpers/tools.ts";

const MiB = 1024 * 1024;
const PART = 5 * MiB;

/** A 3-band 8-bit GeoTIFF of seeded noise (incompressible, so its COG stays over one part). */
function noiseGeoTiff(width: number, height: number): Uint8Array {
  const values = new Uint8Array(width * height * 3);
  let state = 15;
  for (let i = 0; i < values.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    values[i] = state >>> 24;
  }
  const buffer = writeArrayBuffer(values, {
    width,
    height,
    // Near Bozeman, Montana: inside EPSG:4326's area of use, like the sample batch.
    ModelTiepoint: [0, 0, 0, -111.1, 45.8, 0],
    ModelPixelScale: [0.0001, 0.0001, 0],
    GeographicTypeGeoKey: 4326,
    GeogCitationGeoKey: "WGS 84",
    GTModelTypeGeoKey: 2,
  });
  return new Uint8Array(buffer);
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

Deno.test({
  name: "spatial pipeline on OpenStack Swift s3api: multipart outputs keep sha256 and lineage, " +
    "the batch is archived with its hashes",
  ignore: await needs("swift"),
  fn: async () => {
    await using swift = await startSwift();
    await using lake = new S3ObjectStore({
      endpoint: swift.endpoint,
      credentials: swift.credentials,
      partSize: PART,
    });
    await using ledger = new MemoryLedger();
    await lake.ensureBucket(LANDING);
    await lake.ensureBucket(LAKE);
    const batch = "swift-batch";
    const sampleDir = new URL("montana-sample/", SAMPLE_DIR);
    for (const name of ["trailheads.geojson", "dem.tif"]) {
      const bytes = await Deno.readFile(new URL(name, sampleDir));
      await lake.put(LANDING, `${batch}/${name}`, bytes);
    }
    const noise = noiseGeoTiff(1400, 1300); // 5.2 MiB: a multipart upload of 2 parts
    const uploaded = await lake.put(LANDING, `${batch}/noise.tif`, noise);
    assert.ok(uploaded.etag.includes("-"), `not a multipart upload: ${uploaded.etag}`);
    const manifest = await sampleManifest();
    manifest.batch_id = batch;
    manifest.files = [
      { path: `${batch}/trailheads.geojson`, type: "vector", format: "geojson", crs: "EPSG:4326" },
      { path: `${batch}/dem.tif`, type: "raster", format: "geotiff", crs: "EPSG:32612" },
      { path: `${batch}/noise.tif`, type: "raster", format: "geotiff", crs: "EPSG:4326" },
    ];
    await lake.put(
      LANDING,
      `manifests/${batch}.json`,
      new TextEncoder().encode(JSON.stringify(manifest)),
    );

    const result = await runBatch({ store: lake, ledger }, batch);
    const steps = result.steps.map((s) => [s.assetKey, s.status, s.reason ?? s.error?.message]);
    assert.equal(result.status, "success", JSON.stringify(steps));
    for (const step of result.steps) {
      for (const check of step.checks) {
        assert.ok(check.passed, `${step.assetKey} ${check.name}: ${check.description}`);
      }
    }

    // Every output carries its sha256 and its ledger id, including the multipart ones.
    const docs = await ledger.findByBatch(batch);
    assert.equal(docs.length, 3, docs.map((d) => d.key).join(", "));
    let multipart = 0;
    for (const doc of docs) {
      const head = await lake.head(doc.bucket, doc.key);
      assert.ok(head !== undefined, doc.key);
      assert.equal(head.sha256, doc.sha256, doc.key);
      assert.equal(head.metadata.mongodb_doc_id, doc.id, doc.key);
      assert.equal(head.metadata.batch_id, batch, doc.key);
      const stored = await lake.getBytes(doc.bucket, doc.key);
      assert.equal(sha256(stored), doc.sha256, doc.key);
      if (head.etag.includes("-")) multipart++;
    }
    assert.ok(multipart >= 1, "no output went up as a multipart upload");

    // Archived (a server-side copy of the multipart landing file), hash kept; manifest last.
    const archived = await lake.head(LANDING, `archive/${batch}/noise.tif`);
    assert.equal(archived?.sha256, sha256(noise));
    assert.equal(archived?.size, noise.byteLength);
    assert.equal(await lake.head(LANDING, `${batch}/noise.tif`), undefined);
    assert.equal(await lake.head(LANDING, `manifests/${batch}.json`), undefined);
    assert.ok(await lake.head(LANDING, `archive/${batch}/manifest.json`));
  },
});
