/**
 * The repo's dbt/ project on PGlite, PostgreSQL and DuckDB from the same raw
 * rows: opening each warehouse with the target of its type, loading the raw
 * tables with the warehouse's own bulk load, and reading the marts back in a
 * canonical form so the three can be compared value by value.
 *
 * @module
 */

import { openWarehouse, type SqlValue, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { RAW_TABLES_SQL } from "./_fixture.ts";
import { RAW_WEATHER_COLUMNS, RAW_WEATHER_TABLE } from "../../../assets/weather/bronze_weather.ts";
import { DAILY_ACTIVITY, loadColumns } from "../../../assets/activity/_columns.ts";

/** A warehouse with the dbt target that writes SQL for it. */
export interface DbtWarehouse extends AsyncDisposable {
  readonly name: string;
  readonly target: string;
  readonly warehouse: Warehouse;
}

/** PGlite, a throwaway PostgreSQL, and DuckDB (a file, as users run it). */
export async function* threeWarehouses(dir: string): AsyncGenerator<() => Promise<DbtWarehouse>> {
  yield async () => {
    const warehouse = await openWarehouse("pglite:memory:");
    return {
      name: "pglite",
      target: "embedded",
      warehouse,
      [Symbol.asyncDispose]: () => warehouse.close(),
    };
  };
  yield async () => {
    const server = await startPostgres();
    const warehouse = await openWarehouse(server.url, { onNotice: () => {} }).catch(async (e) => {
      await server.stop();
      throw e;
    });
    return {
      name: "postgres",
      target: "embedded",
      warehouse,
      async [Symbol.asyncDispose]() {
        try {
          await warehouse.close();
        } finally {
          await server.stop();
        }
      },
    };
  };
  yield async () => {
    const warehouse = await openWarehouse(`duckdb:${dir}/warehouse.duckdb`, { onNotice: () => {} });
    return {
      name: "duckdb",
      target: "duckdb",
      warehouse,
      [Symbol.asyncDispose]: () => warehouse.close(),
    };
  };
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Every row's `loaded_at`: fixed, so the marts that carry it compare too. */
const LOADED_AT = new Date("2026-11-01T06:00:00Z");

/**
 * Raw weather for two places over `days` days, and activity plus sleep for
 * three users over `activityDays` days, with gaps, nulls and values that
 * round at the half (the places where dialects disagree first).
 */
export function rawRows(
  from: string,
  days: number,
  activityDays: number,
  size: { readonly users?: number; readonly places?: number } = {},
) {
  const start = Date.parse(`${from}T00:00:00Z`);
  const weather: SqlValue[][] = [];
  const places: [string, number, number, number][] = [
    ["billings", 45.78, -108.5, 8],
    ["bozeman", 45.68, -111.04, 3],
  ];
  for (let p = places.length; p < (size.places ?? 2); p++) {
    places.push([`place_${p}`, 44 + p * 0.1, -110 - p * 0.1, p % 9]);
  }
  for (const [place, lat, lon, base] of places) {
    for (let d = 0; d < days; d++) {
      for (let h = 0; h < 24; h++) {
        if (place === "bozeman" && d === 2 && h === 5) continue; // an hour never reported
        const t = base + ((h * 7 + d * 3) % 29) - 0.125;
        weather.push([
          place,
          lat,
          lon,
          new Date(start + d * DAY_MS),
          new Date(start + d * DAY_MS + h * HOUR_MS),
          h === 3 ? null : t,
          h % 6 === 0 ? 0.35 : 0,
          d === 4 ? 1.5 : 0,
          10 + (h % 5) * 7.25,
          h % 4,
          `raw/weather/${place}.json`,
          LOADED_AT,
        ]);
      }
    }
  }
  const activity: SqlValue[][] = [];
  const sleep: SqlValue[][] = [];
  const users = Array.from({ length: size.users ?? 3 }, (_, i) => `u${i + 1}`);
  for (const [u, user] of users.entries()) {
    for (let d = 0; d < activityDays; d++) {
      if (user === "u3" && d % 5 === 4) continue; // days without a record
      const day = new Date(start + d * DAY_MS);
      activity.push([
        user,
        day,
        6000 + ((d * 613 + u * 997) % 5000),
        4.5 + (d % 7) * 0.35,
        20 + (d % 9),
        10 + (d % 4),
        150 + (d * 11) % 60,
        600 + (d * 17) % 200,
        1900 + (d * 23) % 500,
        "activity_1.csv",
        LOADED_AT,
      ]);
      sleep.push([
        user,
        day,
        d % 11 === 10 ? null : 380 + ((d * 37 + u * 13) % 120),
        430 + (d % 6) * 10,
        1 + (d % 2),
        "sleep_1.csv",
        LOADED_AT,
      ]);
    }
  }
  return { weather, activity, sleep };
}

/** Creates the raw tables and loads `rows` with the warehouse's bulk load. */
export async function loadRaw(
  warehouse: Warehouse,
  rows: ReturnType<typeof rawRows>,
): Promise<void> {
  await warehouse.exec(RAW_TABLES_SQL);
  // The loaders' own column lists, so the rows match what the pipelines load.
  await warehouse.bulkLoad(RAW_WEATHER_TABLE, RAW_WEATHER_COLUMNS, rows.weather);
  await warehouse.bulkLoad(
    { schema: "raw", name: "daily_activity" },
    [...loadColumns(DAILY_ACTIVITY), "loaded_at"],
    rows.activity,
  );
  await warehouse.bulkLoad({ schema: "raw", name: "sleep" }, [
    "user_id",
    "sleep_date",
    "minutes_asleep",
    "minutes_in_bed",
    "sleep_records",
    "source_file",
    "loaded_at",
  ], rows.sleep);
}

/**
 * One value in a form the three warehouses agree on: exact decimals and
 * integers as their numeric value, floating-point results to 12
 * significant digits (the order of a sum may differ), dates as ISO text.
 */
export function canonical(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : value.toPrecision(12);
  }
  if (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value)) {
    const n = Number(value);
    return Number.isInteger(n) ? String(n) : n.toPrecision(12);
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** The rows of `table`, canonical, sorted, as lines `col=value|...`. */
export async function martRows(
  warehouse: Warehouse,
  schema: string,
  table: string,
): Promise<string[]> {
  const columns = await warehouse.columns(schema, table);
  const rows = await warehouse.query(`select * from "${schema}"."${table}"`);
  return rows.map((row) => columns.map((c) => `${c.name}=${canonical(row[c.name])}`).join("|"))
    .sort();
}

/** A point as WKB (little endian). */
function pointWkb(x: number, y: number): Uint8Array {
  const view = new DataView(new ArrayBuffer(21));
  view.setUint8(0, 1);
  view.setUint32(1, 1, true);
  view.setFloat64(5, x, true);
  view.setFloat64(13, y, true);
  return new Uint8Array(view.buffer);
}

/** A line string as WKB (little endian). */
function lineWkb(points: readonly (readonly [number, number])[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(9 + 16 * points.length));
  view.setUint8(0, 1);
  view.setUint32(1, 2, true);
  view.setUint32(5, points.length, true);
  points.forEach(([x, y], i) => {
    view.setFloat64(9 + 16 * i, x, true);
    view.setFloat64(17 + 16 * i, y, true);
  });
  return new Uint8Array(view.buffer);
}

const WGS84 = {
  $schema: "https://proj.org/schemas/v0.7/projjson.schema.json",
  type: "GeographicCRS",
  name: "WGS 84",
  datum: {
    type: "GeodeticReferenceFrame",
    name: "World Geodetic System 1984",
    ellipsoid: { name: "WGS 84", semi_major_axis: 6378137, inverse_flattening: 298.257223563 },
  },
  coordinate_system: {
    subtype: "ellipsoidal",
    axis: [
      { name: "Geodetic latitude", abbreviation: "Lat", direction: "north", unit: "degree" },
      { name: "Geodetic longitude", abbreviation: "Lon", direction: "east", unit: "degree" },
    ],
  },
  id: { authority: "EPSG", code: 4326 },
};

/**
 * A lake folder laid out as the spatial pipeline publishes it
 * (`<project>/<batch>/<layer>.parquet`), written by the platform's own
 * GeoParquet writer: montana/b1/trailheads (3 points, one without
 * geometry), montana/b1/trails (2 lines), idaho/b2/trailheads (1 point).
 */
export async function writeGeoParquetLake(root: string): Promise<void> {
  const { DatabaseSync } = await import("node:sqlite");
  const { sqliteToGeoParquet } = await import("../../../formats/geoparquet.ts");
  const layers: [string, string, [string, Uint8Array | null][]][] = [
    ["montana/b1", "trailheads", [
      ["Beartooth", pointWkb(-109.47, 44.97)],
      ["Glacier", pointWkb(-113.98, 48.69)],
      ["Nowhere", null],
    ]],
    ["montana/b1", "trails", [
      ["Ridge", lineWkb([[-113.79, 48.77], [-113.5, 48.6]])],
      ["Valley", lineWkb([[-111.2, 45.39], [-110.95, 45.5]])],
    ]],
    ["idaho/b2", "trailheads", [["Sawtooth", pointWkb(-114.9, 44.1)]]],
  ];
  for (const [folder, layer, features] of layers) {
    await Deno.mkdir(`${root}/${folder}`, { recursive: true });
    const dbPath = `${root}/${folder}/${layer}.sqlite`;
    const db = new DatabaseSync(dbPath);
    db.exec("CREATE TABLE features (name TEXT, geom BLOB)");
    const insert = db.prepare("INSERT INTO features VALUES (?, ?)");
    for (const [name, wkb] of features) insert.run(name, wkb);
    db.close();
    await sqliteToGeoParquet(dbPath, "features", `${root}/${folder}/${layer}.parquet`, {
      crs: WGS84,
      geometryColumn: "geom",
    });
    await Deno.remove(dbPath);
  }
}
