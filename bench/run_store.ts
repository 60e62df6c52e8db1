/**
 * Run store throughput: 10,000 step writes and 10,000 event appends, one
 * awaited call each as the executor makes them, then `flush()`, on every
 * backend (memory, SQLite file, Postgres on a throwaway cluster when
 * installed), and a 1,000-asset no-op run on each. Each backend is compared
 * with its bare driver doing the same 10,000 step upserts at its fastest
 * (SQLite: one prepared statement in one transaction; Postgres: one
 * statement for all rows; memory: a `Map`), measured in the same run.
 *
 *     deno run -A bench/run_store.ts
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import { materialize, MemoryRunStore, type RunStore, type StepRecord } from "../core/mod.ts";
import { PostgresRunStore, SqliteRunStore } from "../resources/run_store/mod.ts";
import { findPostgresBinDir, startPostgres } from "../tests/_helpers/postgres.ts";
import { layeredGraph } from "./core.ts";

const N = 10_000;

function stepOf(i: number, runId = "bench"): StepRecord {
  return {
    runId,
    assetKey: `asset_${i % 1000}`,
    partition: `2024-01-${String(1 + Math.floor(i / 1000)).padStart(2, "0")}`,
    status: "success",
    attempts: 1,
    startedAt: 1_700_000_000_000 + i,
    finishedAt: 1_700_000_000_100 + i,
    reason: null,
  };
}

async function time(work: () => Promise<unknown> | unknown): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

interface Row {
  backend: string;
  steps: number;
  events: number;
  graph: number;
  baseline: number;
}

async function measure(
  backend: string,
  open: () => Promise<RunStore>,
  baseline: number,
): Promise<Row> {
  await using store = await open();
  const steps = await time(async () => {
    for (let i = 0; i < N; i++) await store.putStep(stepOf(i));
    await store.flush();
  });
  if ((await store.listSteps("bench")).length !== N) throw new Error(`${backend}: steps missing`);
  const events = await time(async () => {
    for (let i = 0; i < N; i++) {
      await store.appendEvents([{
        runId: "bench",
        type: i % 10 === 0 ? "materialization" : "log",
        time: 1_700_000_000_000 + i,
        assetKey: `asset_${i % 1000}`,
        partition: null,
        data: i % 10 === 0 ? { metadata: { rows: i }, codeVersion: "1" } : { message: `line ${i}` },
      }]);
    }
    await store.flush();
  });
  if ((await store.listEvents("bench")).length !== N) throw new Error(`${backend}: events missing`);
  const graph = await time(async () => {
    const result = await materialize(layeredGraph(1000), { runStore: store, concurrency: 8 });
    if (result.status !== "success") throw new Error(`${backend}: run ${result.status}`);
  });
  return { backend, steps, events, graph, baseline };
}

function sqliteBaseline(path: string): Promise<number> {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL"); // as the store does
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec(
    `CREATE TABLE steps (run_id TEXT, asset_key TEXT, partition_key TEXT, status TEXT,
       attempts INTEGER, started_at INTEGER, finished_at INTEGER, reason TEXT,
       UNIQUE (run_id, asset_key, partition_key))`,
  );
  const insert = db.prepare(
    `INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, asset_key, partition_key) DO UPDATE SET
       status = excluded.status, attempts = excluded.attempts`,
  );
  return time(() => {
    db.exec("BEGIN");
    for (let i = 0; i < N; i++) {
      const s = stepOf(i);
      insert.run(
        s.runId,
        s.assetKey,
        s.partition,
        s.status,
        s.attempts,
        s.startedAt,
        s.finishedAt,
        s.reason,
      );
    }
    db.exec("COMMIT");
    db.close();
  });
}

async function postgresBaseline(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(
      `CREATE TABLE steps (run_id TEXT, asset_key TEXT, partition_key TEXT, status TEXT,
         attempts INTEGER, started_at BIGINT, finished_at BIGINT, reason TEXT,
         UNIQUE (run_id, asset_key, partition_key))`,
    );
    const rows = Array.from({ length: N }, (_, i) => stepOf(i));
    // The floor: every row in one statement, as one JSON parameter.
    return await time(() =>
      sql.unsafe(
        `INSERT INTO steps SELECT * FROM json_to_recordset($1::text::json) AS t(runId text,
           assetKey text, partition text, status text, attempts integer, startedAt bigint,
           finishedAt bigint, reason text)
         ON CONFLICT (run_id, asset_key, partition_key) DO UPDATE SET
           status = excluded.status, attempts = excluded.attempts`,
        [JSON.stringify(rows)],
      )
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Runs the benchmark and prints a table. */
export async function main(): Promise<void> {
  const rows: Row[] = [];
  await measure("warm-up", () => Promise.resolve(new MemoryRunStore()), 1); // JIT, not figures
  const memoryBaseline = await time(() => {
    const map = new Map<string, StepRecord>();
    for (let i = 0; i < N; i++) {
      const s = stepOf(i);
      map.set(`${s.runId}\0${s.assetKey}\0${s.partition}`, s);
    }
  });
  rows.push(await measure("memory", () => Promise.resolve(new MemoryRunStore()), memoryBaseline));
  const dir = await Deno.makeTempDir({ prefix: "bench-run-store-" });
  try {
    const baseline = await sqliteBaseline(`${dir}/baseline.db`);
    rows.push(
      await measure(
        "sqlite",
        () => Promise.resolve(SqliteRunStore.open(`${dir}/runs.db`)),
        baseline,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  if (Deno.env.get("DATABASE_URL") || await findPostgresBinDir()) {
    await using pg = await startPostgres();
    const baseline = await postgresBaseline(pg.url);
    rows.push(await measure("postgres", () => PostgresRunStore.open(pg.url), baseline));
  } else {
    console.log("postgres: skipped (no PostgreSQL binaries and no DATABASE_URL)");
  }
  console.log(
    `${"backend".padEnd(9)} ${"10k putStep".padStart(12)} ${"per step".padStart(9)} ` +
      `${"bare driver".padStart(12)} ${"ratio".padStart(6)} ${"10k events".padStart(11)} ` +
      `${"1k-asset run".padStart(13)}`,
  );
  for (const row of rows) {
    console.log(
      `${row.backend.padEnd(9)} ${`${row.steps.toFixed(0)} ms`.padStart(12)} ` +
        `${`${((row.steps * 1000) / N).toFixed(1)} µs`.padStart(9)} ` +
        `${`${row.baseline.toFixed(1)} ms`.padStart(12)} ${
          `${(row.steps / row.baseline).toFixed(1)}x`.padStart(6)
        } ` +
        `${`${row.events.toFixed(0)} ms`.padStart(11)} ${
          `${row.graph.toFixed(0)} ms`.padStart(13)
        }`,
    );
  }
}

if (import.meta.main) await main();
