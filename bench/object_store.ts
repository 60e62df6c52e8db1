/**
 * Object store benchmark: 1,000 small objects (1 KiB) put then get, and one
 * 500 MB stream put then get (generated on the fly, never held in memory), on
 * the local backend and on S3 (s3rver on loopback, in this same process).
 *
 *     deno run -A bench/object_store.ts
 *
 * Peak RSS is sampled every 20 ms during each operation; for S3 it includes
 * s3rver, which runs in the same process.
 *
 * @module
 */

import {
  LocalObjectStore,
  type ObjectStore,
  S3ObjectStore,
} from "../resources/object_store/mod.ts";
import { startS3rver } from "../tests/_helpers/s3rver.ts";

const SMALL_COUNT = 1_000;
const SMALL_SIZE = 1024;
const LARGE_SIZE = 500 * 1000 * 1000;
const CHUNK = 1024 * 1024;
const BUCKET = "bench-lake";

/** One line of the result table. */
export interface BenchRow {
  operation: string;
  backend: string;
  amount: string;
  seconds: number;
  rate: string;
  peakRssMiB: number;
}

/** Runs every benchmark, prints the table and returns its rows. */
export async function main(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const root = await Deno.makeTempDir({ prefix: "bench-lake-" });
  try {
    await using local = new LocalObjectStore({ root });
    rows.push(...await benchBackend("local", local));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  await using server = await startS3rver();
  await using s3 = new S3ObjectStore({
    endpoint: server.endpoint,
    credentials: server.credentials,
  });
  rows.push(...await benchBackend("s3 (s3rver)", s3));
  printTable(rows);
  return rows;
}

async function benchBackend(backend: string, store: ObjectStore): Promise<BenchRow[]> {
  await store.ensureBucket(BUCKET);
  const body = new Uint8Array(SMALL_SIZE).map((_, i) => i & 0xff);
  const keys = Array.from(
    { length: SMALL_COUNT },
    (_, i) => `small/${String(i).padStart(4, "0")}.bin`,
  );
  const small = `${SMALL_COUNT} x 1 KiB`;
  const large = `${LARGE_SIZE / 1e6} MB`;
  return [
    await measure("put small", backend, small, SMALL_COUNT, 0, async () => {
      for (const key of keys) await store.put(BUCKET, key, body);
    }),
    await measure("get small", backend, small, SMALL_COUNT, 0, async () => {
      for (const key of keys) await store.getBytes(BUCKET, key);
    }),
    await measure("put stream", backend, large, 0, LARGE_SIZE, async () => {
      const written = await store.put(BUCKET, "large/blob.bin", generatedStream(LARGE_SIZE));
      if (written.size !== LARGE_SIZE) throw new Error(`wrote ${written.size} bytes`);
    }),
    await measure("get stream", backend, large, 0, LARGE_SIZE, async () => {
      const { body } = await store.get(BUCKET, "large/blob.bin");
      let size = 0;
      for await (const chunk of body) size += chunk.byteLength;
      if (size !== LARGE_SIZE) throw new Error(`read ${size} bytes`);
    }),
  ];
}

/** Bytes made chunk by chunk, so the whole body never exists in memory. */
function generatedStream(size: number): ReadableStream<Uint8Array> {
  const block = crypto.getRandomValues(new Uint8Array(65536));
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= size) return controller.close();
      const length = Math.min(CHUNK, size - offset);
      const chunk = new Uint8Array(length);
      for (let at = 0; at < length; at += block.length) {
        chunk.set(block.subarray(0, length - at), at);
      }
      new DataView(chunk.buffer).setFloat64(0, offset); // Keeps chunks distinct.
      controller.enqueue(chunk);
      offset += length;
    },
  });
}

async function measure(
  operation: string,
  backend: string,
  amount: string,
  objects: number,
  bytes: number,
  run: () => Promise<void>,
): Promise<BenchRow> {
  let peak = Deno.memoryUsage().rss;
  const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
  const started = performance.now();
  try {
    await run();
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  peak = Math.max(peak, Deno.memoryUsage().rss);
  const rate = objects > 0
    ? `${(objects / seconds).toFixed(0)} objects/s`
    : `${(bytes / 1e6 / seconds).toFixed(1)} MB/s`;
  return { operation, backend, amount, seconds, rate, peakRssMiB: peak / 1024 / 1024 };
}

function printTable(rows: BenchRow[]): void {
  const header = ["operation", "backend", "count/bytes", "seconds", "rate", "peak RSS"];
  const cells = rows.map((r) => [
    r.operation,
    r.backend,
    r.amount,
    r.seconds.toFixed(2),
    r.rate,
    `${r.peakRssMiB.toFixed(0)} MiB`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ");
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of cells) console.log(line(row));
}

if (import.meta.main) await main();
