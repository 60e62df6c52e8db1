/**
 * A graph for daemon subprocess tests (`PLATFORM_GRAPH=tests/sensors/_daemon_graph.ts
 * deno run -A main.ts sensor`): the real manifest sensor, with a validator that
 * accepts any JSON manifest (the real checks are tested with the manifest
 * module), and one spatial asset that appends `<batch> <run id> <pid>` to
 * `FIXTURE_MARKER_FILE`. With `FIXTURE_HOLD=1` the asset then waits until its
 * run is canceled, so a test can stop the daemon while a run is in flight.
 *
 * @module
 */

import { asset } from "../../assets/_define.ts";
import type { Manifest } from "../../assets/spatial/manifest.ts";
import { defineGraph, dynamicPartitions } from "../../core/mod.ts";
import { appResources, loadConfig } from "../../resources/mod.ts";
import {
  manifestSensor,
  SPATIAL_BATCHES,
  type ValidateManifest,
} from "../../sensors/manifest_sensor.ts";

const marker = Deno.env.get("FIXTURE_MARKER_FILE") ?? "";
const hold = Deno.env.get("FIXTURE_HOLD") === "1";

const acceptAll: ValidateManifest = async (store, bucket, key) => {
  const got = await store.get(bucket, key);
  const manifest = JSON.parse(await new Response(got.body).text()) as Manifest;
  return { ok: true, manifest, etag: got.etag };
};

const spatial = asset({
  key: "spatial/fake",
  group: "spatial",
  partitions: dynamicPartitions(SPATIAL_BATCHES),
  async materialize(ctx) {
    await Deno.writeTextFile(marker, `${ctx.partitionKey} ${ctx.runId} ${Deno.pid}\n`, {
      append: true,
    });
    if (hold) {
      await new Promise((_, reject) =>
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true })
      );
    }
    return { batch: ctx.partitionKey ?? "" };
  },
});

/** The fixture graph. */
export const graph = defineGraph({
  assets: [spatial],
  resources: appResources(loadConfig()),
  sensors: [manifestSensor({ validate: acceptAll })],
});
