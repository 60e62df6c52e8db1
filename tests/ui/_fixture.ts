/**
 * A small graph that has run, for the UI tests: two groups, static
 * partitions, a check that fails, an asset that fails with `<script>` and a
 * password in its error, a sensor and a schedule.
 *
 * @module
 */

import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { materialize } from "../../core/executor.ts";
import { staticPartitions } from "../../core/partitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { defineSchedule } from "../../core/schedule.ts";
import { defineSensor } from "../../core/sensor.ts";
import { serveUi, type UiServer } from "../../ui/mod.ts";

/** The password that must never be shown. */
export const SECRET = "SECRETPASS_8f3a";
/** Markup that must show as text. */
export const SCRIPT = "<script>window.__pwned = true</script>";

let calls = 0;

/** The fixture graph; `slow` waits until its signal aborts or `release` is called. */
export function fixtureGraph() {
  const release = Promise.withResolvers<void>();
  const places = staticPartitions(["north", "south", "east"]);
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "raw_events",
        group: "ingest",
        tags: ["csv"],
        description: `Raw events ${SCRIPT}`,
        partitions: places,
        metadata: { owners: ["team-data@example.org"] },
        codeVersion: "v1",
        materialize: () => ({ rows: 10 + (calls++ % 5), header: `id,${SCRIPT}` }),
      }),
      defineAsset({
        key: "clean_events",
        group: "ingest",
        deps: ["raw_events"],
        partitions: places,
        checks: [{
          name: "no_nulls",
          description: "no null ids",
          run: (ctx) => ({
            passed: ctx.partitionKey !== "east",
            description: `3 null ids in ${SCRIPT}`,
            metadata: { failing_rows: ctx.partitionKey === "east" ? 3 : 0 },
          }),
        }],
        materialize: () => ({ rows: 9 }),
      }),
      defineAsset({
        key: "marts/summary",
        group: "marts",
        deps: ["clean_events"],
        materialize: () => ({ rows: 3, bytes: 1024 }),
      }),
      defineAsset({
        key: "marts/broken",
        group: "marts",
        materialize: () => {
          throw new Error(`cannot reach postgres://app:${SECRET}@db:5432/x ${SCRIPT}`);
        },
      }),
      defineAsset({
        key: "slow",
        group: "marts",
        materialize: async (ctx) => {
          await Promise.race([
            release.promise,
            new Promise((_, reject) =>
              ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true })
            ),
          ]);
          return { rows: 1 };
        },
      }),
    ],
    sensors: [defineSensor({
      name: "inbox",
      description: "watches the inbox",
      evaluate: () => ({ skipReason: "nothing new" }),
    })],
    schedules: [defineSchedule({ name: "nightly", cron: "0 3 * * *", selection: "marts/summary" })],
  });
  return { graph, release: () => release.resolve() };
}

/** A store where the fixture graph ran twice (everything but `slow`). */
export async function ranStore(graph: ReturnType<typeof fixtureGraph>["graph"]) {
  const store = new MemoryRunStore();
  await materialize(graph, { runStore: store, exclude: "slow", tags: { sensor: "inbox" } });
  await materialize(graph, {
    runStore: store,
    selection: "clean_events",
    partitions: { keys: ["north"] },
  });
  return store;
}

/** A UI server on a free port over the fixture. */
export async function fixtureServer(
  options: { token?: string; host?: string; bodyTimeoutMs?: number } = {},
): Promise<{ server: UiServer; release: () => void; store: MemoryRunStore }> {
  const { graph, release } = fixtureGraph();
  const store = await ranStore(graph);
  const server = await serveUi({
    graph,
    store,
    port: 0,
    secrets: [SECRET],
    ...(options.token ? { token: options.token } : {}),
    ...(options.host ? { host: options.host } : {}),
    ...(options.bodyTimeoutMs ? { bodyTimeoutMs: options.bodyTimeoutMs } : {}),
  });
  return { server, release, store };
}

/** POSTs a launch of `marts/summary` to `url` with `headers`: its status and JSON body. */
export function postLaunch(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: { error?: string; message?: string; runId?: string } }> {
  return fetch(`${url}/actions/launch`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ selection: "marts/summary" }),
  }).then(async (r) => ({ status: r.status, body: await r.json() }));
}
