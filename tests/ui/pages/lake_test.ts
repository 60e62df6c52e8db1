/**
 * The lake object page says when an object no longer holds what its ledger
 * document recorded: by hash when the store recorded one, by size when it
 * did not, naming the asset run that writes it again.
 *
 * @module
 */

import { assertMatch } from "../_assert.ts";
import { dataServer } from "../_data_fixture.ts";
import type { ObjectHead } from "../../../resources/object_store/types.ts";

Deno.test("lake object page: an object cut after publishing is a mismatch, with or without a recorded sha256", async () => {
  // Before: with no sha256 recorded (a lost sidecar: the local store's object truncated in
  // place), the page said "sha256 matches: unknown" for a GeoParquet cut to 500 bytes.
  await using data = await dataServer();
  const { server, lake, ledger } = data;
  const full = new Uint8Array(4789).fill(7);
  const put = await lake.put("data-lake", "proj/b1/trails.parquet", full);
  await ledger.upsert({
    bucket: "data-lake",
    key: "proj/b1/trails.parquet",
    sha256: put.sha256,
    size: put.size,
    run_id: "run-3",
    asset_key: "spatial/vector_geoparquet",
    partition: "b1",
    format: "geoparquet",
    metadata: {},
  });
  await lake.put("data-lake", "proj/b1/trails.parquet", full.subarray(0, 500));
  const url = `${server.url}/lake/object?bucket=data-lake&key=proj/b1/trails.parquet`;
  const withHash = await (await fetch(url)).text();
  assertMatch(withHash, /data-content-mismatch>NO<\/b> \(changed or cut after it was published/);
  assertMatch(withHash, /materialize spatial\/vector_geoparquet --partition b1 to write it again/);
  // The same object seen through a store that records no sha256.
  const head = lake.head.bind(lake);
  lake.head = async (bucket: string, key: string): Promise<ObjectHead | undefined> => {
    const found = await head(bucket, key);
    if (!found) return undefined;
    const { sha256: _, ...rest } = found;
    return rest;
  };
  const bySize = await (await fetch(url)).text();
  assertMatch(
    bySize,
    /data-content-mismatch>NO<\/b>: 500 bytes, the ledger recorded 4,789 \(changed/,
  );
});
