/**
 * The activity tables in the warehouse (`raw.daily_activity`, `raw.sleep`,
 * `ops.raw_ingest_manifest`, as fixed by the shared data contracts) and the
 * statements the loader runs on them.
 *
 * @module
 */

import type { Warehouse, WarehouseSession } from "../../resources/warehouse/types.ts";
import { quoteTable } from "../../resources/warehouse/sql.ts";
import { sha256Hex } from "./_checksum.ts";
import type { DropKind } from "./_columns.ts";
import { type ManifestEntry, ManifestEntrySchema } from "./report.ts";

/**
 * Creates the schemas and tables when missing. The extra index on
 * `source_file` is what makes "a changed file replaces its own rows" a range
 * delete instead of a scan. `loaded_at` defaults to `now()`, the start of the
 * loading transaction, so it is one instant per file and never travels in the
 * COPY stream (a timestamptz per row was a tenth of the bytes and the
 * costliest value for the server to parse).
 */
const DDL = `
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS raw.daily_activity (
  user_id text NOT NULL,
  activity_date date NOT NULL,
  total_steps integer,
  total_distance_km double precision,
  very_active_minutes integer,
  fairly_active_minutes integer,
  lightly_active_minutes integer,
  sedentary_minutes integer,
  calories integer,
  source_file text NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, activity_date, source_file)
);
CREATE INDEX IF NOT EXISTS daily_activity_source_file_idx ON raw.daily_activity (source_file);
CREATE TABLE IF NOT EXISTS raw.sleep (
  user_id text NOT NULL,
  sleep_date date NOT NULL,
  minutes_asleep integer,
  minutes_in_bed integer,
  sleep_records integer,
  source_file text NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sleep_source_file_idx ON raw.sleep (source_file);
CREATE TABLE IF NOT EXISTS ops.raw_ingest_manifest (
  source_filename text PRIMARY KEY,
  checksum_sha256 text NOT NULL,
  ingested_at timestamptz NOT NULL,
  row_count integer NOT NULL,
  status text NOT NULL CHECK (status IN ('loaded', 'rejected'))
);
`;

/**
 * Creates the activity tables and the ingest manifest when they do not exist.
 * `IF NOT EXISTS` is not safe against a concurrent run doing the same (both
 * insert the catalog row), so the DDL runs under an advisory lock.
 */
export async function ensureActivityTables(warehouse: Warehouse): Promise<void> {
  await warehouse.transaction(async (tx) => {
    await tx.exec(
      `SELECT pg_advisory_xact_lock(hashtextextended('bronze_activity:ddl', 0));${DDL}`,
    );
  });
}

/** The manifest row of a file, or `undefined` when the file was never seen. */
export async function manifestEntry(
  session: WarehouseSession,
  sourceFilename: string,
): Promise<ManifestEntry | undefined> {
  const [row] = await session.query(
    `SELECT source_filename, checksum_sha256, ingested_at, row_count, status
     FROM ops.raw_ingest_manifest WHERE source_filename = $1`,
    [sourceFilename],
  );
  return row === undefined ? undefined : ManifestEntrySchema.parse(row);
}

/**
 * Fingerprint of what the raw tables hold: the SHA-256 of every loaded file's
 * name and checksum, in name order. It is the asset's `data_version`, so a run
 * that only skipped files (nothing new) reports the same version and the
 * eager dbt models downstream are not rebuilt for nothing.
 */
export async function loadedFingerprint(session: WarehouseSession): Promise<string> {
  const rows = await session.query<{ source_filename: string; checksum_sha256: string }>(
    `SELECT source_filename, checksum_sha256 FROM ops.raw_ingest_manifest
     WHERE status = 'loaded' ORDER BY source_filename`,
  );
  const text = rows.map((r) => `${r.source_filename}\t${r.checksum_sha256}`).join("\n");
  return sha256Hex(new TextEncoder().encode(text));
}

/**
 * Writes (or replaces) the manifest row of a file; `ingested_at` is `now()`,
 * the same instant as the `loaded_at` of the rows loaded in that transaction.
 */
export async function upsertManifest(
  session: WarehouseSession,
  entry: Omit<ManifestEntry, "ingested_at">,
): Promise<void> {
  await session.execute(
    `INSERT INTO ops.raw_ingest_manifest
       (source_filename, checksum_sha256, ingested_at, row_count, status)
     VALUES ($1, $2, now(), $3, $4)
     ON CONFLICT (source_filename) DO UPDATE SET
       checksum_sha256 = EXCLUDED.checksum_sha256, ingested_at = EXCLUDED.ingested_at,
       row_count = EXCLUDED.row_count, status = EXCLUDED.status`,
    [entry.source_filename, entry.checksum_sha256, entry.row_count, entry.status],
  );
}

/** Deletes the rows an earlier version of `sourceFile` loaded; returns how many. */
export async function deleteRowsOf(
  session: WarehouseSession,
  kind: DropKind,
  sourceFile: string,
): Promise<number> {
  return await session.execute(
    `DELETE FROM ${quoteTable(kind.table)} WHERE source_file = $1`,
    [sourceFile],
  );
}

/**
 * Takes a transaction-scoped advisory lock on a file name, so loads of the
 * same file by concurrent runs take turns (released at commit or rollback).
 */
export async function lockFile(session: WarehouseSession, sourceFilename: string): Promise<void> {
  await session.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
    `bronze_activity:${sourceFilename}`,
  ]);
}
