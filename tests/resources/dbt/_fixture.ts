/**
 * Fixtures for the dbt runner tests: small projects written to temp dirs, a
 * copy of the repo's dbt/ project, seeded raw tables, and the warehouses
 * (PGlite in memory, a throwaway PostgreSQL) each materialisation runs on.
 *
 * @module
 */

import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import type { Tool } from "../../_helpers/tools.ts";

/** dbt_project.yml of the small test projects. */
export const PROJECT_YML = `name: demo
version: "1.0.0"
config-version: 2
profile: demo
vars:
  threshold: 2
models:
  demo:
    +materialized: view
    marts:
      +materialized: table
      +schema: marts
`;

/** profiles.yml of the small test projects. */
export const PROFILES_YML = `demo:
  target: "{{ env_var('DEMO_TARGET', 'embedded') }}"
  outputs:
    embedded:
      type: postgres
      host: localhost
      schema: "{{ env_var('DEMO_SCHEMA', 'analytics') }}"
    other:
      type: postgres
      host: localhost
      schema: other
`;

/**
 * Writes a project to a new temp dir: `files` maps project-relative paths to
 * text; dbt_project.yml and profiles.yml default to the ones above.
 */
export async function writeProject(files: Record<string, string>): Promise<TempProject> {
  const dir = await Deno.makeTempDir({ prefix: "dbt-test-" });
  // The marts block configures nothing in a project without models/marts/: dbt (and this
  // runner) warns about such unused configuration paths, so it is left out there.
  const hasMarts = Object.keys(files).some((path) => path.startsWith("models/marts/"));
  const all = {
    "dbt_project.yml": hasMarts
      ? PROJECT_YML
      : PROJECT_YML.replace(/ {4}marts:\n(?: {6}.*\n)+/, ""),
    "profiles.yml": PROFILES_YML,
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return tempProject(dir);
}

/** A project in a temp dir, removed on dispose. */
export interface TempProject extends AsyncDisposable {
  /** Its folder. */
  readonly dir: string;
}

function tempProject(dir: string): TempProject {
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Copies the repo's dbt/ project (without target/) to a temp dir. */
export async function copyRepoProject(): Promise<TempProject> {
  const source = new URL("../../../dbt/", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "dbt-repo-" });
  const copy = async (from: string, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      if (entry.name === "target") continue;
      if (entry.isDirectory) await copy(`${from}/${entry.name}`, `${to}/${entry.name}`);
      else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
    }
  };
  await copy(source.replace(/\/$/, ""), dir);
  return tempProject(dir);
}

/** The raw tables of the shared data contract (brief), created empty. */
export const RAW_TABLES_SQL = `
create schema if not exists raw;
create table raw.raw_weather (
  place text, latitude double precision, longitude double precision, partition_date date,
  observed_at timestamptz, temperature_c double precision, precipitation_mm double precision,
  snowfall_cm double precision, wind_speed_kmh double precision, weather_code integer,
  source_key text, loaded_at timestamptz, primary key (place, observed_at));
create table raw.daily_activity (
  user_id text, activity_date date, total_steps integer, total_distance_km double precision,
  very_active_minutes integer, fairly_active_minutes integer, lightly_active_minutes integer,
  sedentary_minutes integer, calories integer, source_file text, loaded_at timestamptz,
  unique (user_id, activity_date, source_file));
create table raw.sleep (
  user_id text, sleep_date date, minutes_asleep integer, minutes_in_bed integer,
  sleep_records integer, source_file text, loaded_at timestamptz);
`;

/**
 * Hourly weather for `place` over whole UTC days from `from` (YYYY-MM-DD):
 * 10 °C at midnight rising one degree an hour (so hours 0..20 are in the
 * 5..30 °C trail band), dry, light wind, except 1 mm of rain at 12:00.
 */
export function weatherSql(place: string, from: string, days: number): string {
  return `insert into raw.raw_weather
    select '${place}', 45.78, -108.5, (h at time zone 'UTC')::date, h,
      10 + extract(hour from h at time zone 'UTC'),
      case when extract(hour from h at time zone 'UTC') = 12 then 1 else 0 end,
      0, 12, 1, 'raw/weather/${place}.json', now()
    from generate_series('${from} 00:00+00'::timestamptz,
      '${from} 00:00+00'::timestamptz + interval '${days} days' - interval '1 hour',
      interval '1 hour') h`;
}

/** Daily activity and sleep for `user` over `days` days from `from`. */
export function activitySql(user: string, from: string, days: number): string {
  return `insert into raw.daily_activity
    select '${user}', d::date, 8000 + (extract(day from d)::int * 37) % 900, 5.5, 30, 10, 100, 600,
      2000, 'activity_1.csv', now()
    from generate_series('${from}'::date, '${from}'::date + ${days - 1}, interval '1 day') d;
    insert into raw.sleep
    select '${user}', d::date, 400 + (extract(day from d)::int * 7) % 60, 460, 1, 'sleep_1.csv', now()
    from generate_series('${from}'::date, '${from}'::date + ${days - 1}, interval '1 day') d`;
}

/** A warehouse the materialisation tests run on. */
export interface WarehouseTarget {
  /** Shown in test names. */
  readonly name: string;
  /** Native tools or servers it needs (the test's `ignore:` probes them). */
  readonly needs: readonly Tool[];
  /** Opens a fresh, empty warehouse. */
  open(): Promise<Warehouse & AsyncDisposable>;
}

/** PGlite in memory and a throwaway PostgreSQL. */
export const WAREHOUSES: readonly WarehouseTarget[] = [
  { name: "pglite", needs: [], open: () => openWarehouse("pglite:memory:") },
  {
    name: "postgres",
    needs: ["postgres"],
    open: async () => {
      const pg = await startPostgres();
      let warehouse: Warehouse;
      try {
        warehouse = await openWarehouse(pg.url);
      } catch (error) {
        await pg.stop();
        throw error;
      }
      const close = warehouse.close.bind(warehouse);
      return Object.assign(warehouse, {
        close: async () => {
          try {
            await close();
          } finally {
            await pg.stop();
          }
        },
        [Symbol.asyncDispose]: async () => {
          try {
            await close();
          } finally {
            await pg.stop();
          }
        },
      });
    },
  },
];
