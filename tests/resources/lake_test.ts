import assert from "node:assert/strict";
import { loadConfig } from "../../resources/config.ts";
import { openLake } from "../../resources/lake.ts";

Deno.test("openLake makes the embedded landing and lake buckets ready on a fresh machine", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lake_" });
  try {
    const config = loadConfig({ dotenvPath: null, env: { LAKE_URL: `file://${dir}` } });
    await using lake = await openLake(config);
    assert.equal(lake.backend, "local");
    for (const bucket of ["landing-zone", "data-lake"]) {
      assert.deepEqual((await lake.list(bucket)).objects, [], bucket);
      assert.ok((await Deno.stat(`${dir}/${bucket}`)).isDirectory, bucket);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openLake passes S3 credentials from the config and never creates a server's buckets", async () => {
  const config = loadConfig({
    dotenvPath: null,
    env: {
      LAKE_URL: "http://127.0.0.1:9",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "very-secret",
    },
  });
  await using lake = await openLake(config);
  assert.equal(lake.backend, "s3");
  const error = await lake.list("landing-zone").then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof Error, "an unreachable endpoint is an error, not a created bucket");
  assert.doesNotMatch(error.message, /very-secret/);
});
