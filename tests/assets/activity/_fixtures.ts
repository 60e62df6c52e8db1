/**
 * Shared set-up of the activity tests: an in-memory landing zone, a
 * warehouse, the configuration, and helpers to drop files and read back what
 * was loaded.
 *
 * @module
 */

import type { AssetDefinition } from "../../../core/asset.ts";
import type { Metadata } from "../../../core/metadata.ts";
import { buildAssetContext, FakeClock } from "../../../core/testing.ts";
import { type Config, ConfigSchema } from "../../../resources/config.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import type { ObjectStore } from "../../../resources/object_store/types.ts";
import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { bronzeActivityAsset } from "../../../assets/activity/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import type { Tool } from "../../_helpers/tools.ts";

/** Landing bucket of the default configuration. */
export const BUCKET = "landing-zone";

/** The header of a daily activity drop. */
export const ACTIVITY_HEADER =
  "Id,ActivityDate,TotalSteps,TotalDistance,VeryActiveMinutes,FairlyActiveMinutes," +
  "LightlyActiveMinutes,SedentaryMinutes,Calories";

/** The header of a sleep drop. */
export const SLEEP_HEADER = "Id,SleepDay,TotalSleepRecords,TotalMinutesAsleep,TotalTimeInBed";

/** A daily activity row for user `id` on day `day` (1-based, in 2026-10). */
export function activityRow(id: string, day: number, steps = 5000 + day): string {
  return `${id},10/${day}/2026,${steps},${(steps * 0.0007).toFixed(2)},10,5,200,800,2100`;
}

/** A daily activity CSV with `rows` good rows (users u1..u5, days 1..). */
export function activityCsv(rows: number, options: { steps?: number } = {}): string {
  const lines = [ACTIVITY_HEADER];
  for (let i = 0; i < rows; i++) {
    lines.push(activityRow(`u${i % 5}`, 1 + Math.floor(i / 5), options.steps));
  }
  return lines.join("\n") + "\n";
}

/** Everything a test of `bronze_activity` needs; `await using` closes the warehouse. */
export interface Harness extends AsyncDisposable {
  readonly lake: ObjectStore;
  readonly warehouse: Warehouse;
  readonly config: Config;
  readonly clock: FakeClock;
  /** Puts a file in `landing-zone/activity/`. */
  drop(name: string, content: string | Uint8Array): Promise<void>;
  /** Runs `bronze_activity` once, directly, returning its metadata and log lines. */
  run(
    asset?: AssetDefinition,
    signal?: AbortSignal,
  ): Promise<{ metadata: Metadata; logs: string[] }>;
  /** `SELECT count(*)` of a table or of one file's rows in it. */
  count(table: string, sourceFile?: string): Promise<number>;
  /** Rows of the manifest, by file name. */
  manifest(): Promise<
    Record<string, { checksum: string; rows: number; status: string; at: string }>
  >;
  /** Keys under a prefix of the landing bucket. */
  keys(prefix: string): Promise<string[]>;
}

/** Options of {@linkcode harness}. */
export interface HarnessOptions {
  /**
   * A warehouse shared by several tests: its `raw` and `ops` schemas are
   * dropped first, and it is left open at the end. Opening PGlite costs about
   * two seconds, so tests share one.
   * @default {a new PGlite in memory, closed at the end}
   */
  warehouse?: Warehouse;
  /** `ACTIVITY_BAD_ROW_TOLERANCE`. @default {0.02} */
  tolerance?: number;
}

/** Opens a harness with a fresh in-memory landing zone. */
export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const lake = new MemoryObjectStore();
  await lake.ensureBucket(BUCKET);
  const shared = options.warehouse;
  const warehouse = shared ?? await openWarehouse("pglite:memory:");
  if (shared) {
    await shared.exec("DROP SCHEMA IF EXISTS raw CASCADE; DROP SCHEMA IF EXISTS ops CASCADE");
  }
  const config = ConfigSchema.parse({
    ACTIVITY_BAD_ROW_TOLERANCE: String(options.tolerance ?? 0.02),
  });
  const clock = new FakeClock(Date.parse("2026-11-02T06:00:00Z"));
  const encoder = new TextEncoder();
  return {
    lake,
    warehouse,
    config,
    clock,
    async drop(name, content) {
      const bytes = typeof content === "string" ? encoder.encode(content) : content;
      await lake.put(BUCKET, `activity/${name}`, bytes, { contentType: "text/csv" });
    },
    async run(asset = bronzeActivityAsset(), signal) {
      clock.advance(60_000);
      const ctx = buildAssetContext({
        resources: { config, lake, warehouse },
        clock,
        assetKey: asset.key,
        ...(signal ? { signal } : {}),
      });
      const metadata = (await asset.materialize(ctx)) ?? {};
      return { metadata, logs: ctx.logs.map((l) => `${l.level}: ${l.message}`) };
    },
    async count(table, sourceFile) {
      const where = sourceFile === undefined ? "" : " WHERE source_file = $1";
      const [row] = await warehouse.query<{ n: bigint }>(
        `SELECT count(*) AS n FROM ${table}${where}`,
        sourceFile === undefined ? [] : [sourceFile],
      );
      return Number(row?.n ?? -1);
    },
    async manifest() {
      const rows = await warehouse.query<{
        source_filename: string;
        checksum_sha256: string;
        row_count: number;
        status: string;
        ingested_at: Date;
      }>("SELECT * FROM ops.raw_ingest_manifest ORDER BY source_filename");
      return Object.fromEntries(rows.map((r) => [r.source_filename, {
        checksum: r.checksum_sha256,
        rows: r.row_count,
        status: r.status,
        at: r.ingested_at.toISOString(),
      }]));
    },
    async keys(prefix) {
      const keys: string[] = [];
      for await (const o of lake.listAll(BUCKET, { prefix })) keys.push(o.key);
      return keys;
    },
    async [Symbol.asyncDispose]() {
      if (!shared) await warehouse.close();
    },
  };
}

/** Reads a JSON object from the landing bucket. */
export async function readJson(lake: ObjectStore, key: string): Promise<unknown> {
  return JSON.parse(new TextDecoder().decode(await lake.getBytes(BUCKET, key)));
}

/** A warehouse the activity suites run against. */
export interface WarehouseTarget {
  /** Shown in test names. */
  readonly name: string;
  /** Native tools or servers it needs (the test's `ignore:` probes them). */
  readonly needs: readonly Tool[];
  /** Opens it; `stop` closes it and removes any server. */
  open(): Promise<{ warehouse: Warehouse; stop(): Promise<void> }>;
}

/** PGlite in memory, and PostgreSQL (throwaway cluster or DATABASE_URL) when installed. */
export function warehouseTargets(): WarehouseTarget[] {
  return [
    {
      name: "pglite (memory)",
      needs: [],
      async open() {
        const warehouse = await openWarehouse("pglite:memory:");
        return { warehouse, stop: () => warehouse.close() };
      },
    },
    {
      name: "duckdb (memory)",
      needs: [],
      async open() {
        const warehouse = await openWarehouse("duckdb::memory:");
        return { warehouse, stop: () => warehouse.close() };
      },
    },
    {
      name: "postgres",
      needs: ["postgres"],
      async open() {
        const server = await startPostgres();
        try {
          const warehouse = await openWarehouse(server.url, { onNotice: () => {} });
          return {
            warehouse,
            async stop() {
              try {
                await warehouse.close();
              } finally {
                await server.stop();
              }
            },
          };
        } catch (error) {
          await server.stop();
          throw error;
        }
      },
    },
  ];
}
