/**
 * STAC catalogue benchmark: `deno run -A bench/stac.ts [module]` (through
 * `/work/wt/heavy`). A project holding `BENCH_STAC_ITEMS` Items (1,000 by
 * default, one batch each) gets `BENCH_STAC_UPDATES` more batches (20), each
 * published as `spatial/batch_archive` does it (ledger document, object,
 * `updateStac`); printed: the objects an update reads, writes and lists, and
 * its time, for `assets/spatial/stac.ts` or the module given (the same
 * `updateStac` of another version, to compare in one run). In-memory lake
 * and ledger: the counts are what an S3 lake pays for per request.
 *
 * @module
 */

import { MemoryLedger } from "../resources/ledger/mod.ts";
import { BUCKET, CountingStore, publishOne } from "../tests/assets/spatial/_stac_lake.ts";

const ITEMS = Number(Deno.env.get("BENCH_STAC_ITEMS") ?? 1000);
const UPDATES = Number(Deno.env.get("BENCH_STAC_UPDATES") ?? 20);
const module = Deno.args[0] ?? "../assets/spatial/stac.ts";
const { updateStac } = await import(
  new URL(module, import.meta.url).href
) as typeof import("../assets/spatial/stac.ts");

await using lake = new CountingStore();
await using ledger = new MemoryLedger();
await lake.ensureBucket(BUCKET);

const publish = (batch: string, west: number) =>
  publishOne(updateStac, lake, ledger, "bench", batch, west);

for (let i = 0; i < ITEMS; i++) await publish(`b${i}`, -116 + (i % 50) / 10);
const [reads, writes, listed] = [lake.reads, lake.writes, lake.listed];
const start = performance.now();
for (let i = 0; i < UPDATES; i++) await publish(`u${i}`, -110);
const ms = (performance.now() - start) / UPDATES;
const per = (n: number) => ((n / UPDATES).toFixed(1));
console.log(
  `${module} with ${ITEMS} Items: per update ${ms.toFixed(2)} ms, reads ${
    per(lake.reads - reads)
  }, writes ${per(lake.writes - writes)} (1 of them the output), listed keys ${
    per(lake.listed - listed)
  }; load ${Deno.loadavg()[0]!.toFixed(2)}`,
);
