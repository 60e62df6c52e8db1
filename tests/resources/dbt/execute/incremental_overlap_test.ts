/**
 * Two builds of one incremental model (delete+insert on `unique_key`) that
 * overlap on a PostgreSQL warehouse: what a run's stale executor and its
 * retry do when the first was paused (SIGSTOP, a frozen VM, a blocked event
 * loop) inside its merge past its lease and resumed while the retry merges.
 * The second build's delete waited for the first's row locks and, in READ
 * COMMITTED, could not see the rows the first inserted, so both inserts
 * stayed: every row twice. Merges into one relation are serialised, so the
 * second deletes what the first inserted.
 *
 * @module
 */

import assert from "node:assert/strict";
import { buildModel, loadProject } from "../../../../resources/dbt/mod.ts";
import { openWarehouse } from "../../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../../_helpers/postgres.ts";
import { needs } from "../../../_helpers/tools.ts";
import { writeProject } from "../_fixture.ts";

const FILES: Record<string, string> = {
  "models/sources.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: things
`,
  "models/marts/inc_merge.sql": `{{ config(materialized='incremental', unique_key='id') }}
select id, amount from {{ source('raw', 'things') }}`,
};

Deno.test({
  name: "dbt incremental delete+insert: two overlapping builds of one model on PostgreSQL " +
    "leave each row once",
  ignore: await needs("postgres"),
}, async () => {
  await using pg = await startPostgres();
  await using project = await writeProject(FILES);
  await using first = await openWarehouse(pg.url);
  await using second = await openWarehouse(pg.url);
  await first.exec(`
    create schema raw;
    create table raw.things (id int, amount int);
    insert into raw.things select g, g * 10 from generate_series(1, 50) g;
  `);
  const p = await loadProject(project.dir);
  await buildModel(first, p, "inc_merge");
  // The first merge's insert takes 1.5 s before it commits (a paused executor): once.
  await first.exec(`
    create table public.pause_once (x int);
    insert into public.pause_once values (1);
    create function public.pause() returns trigger language plpgsql as $$
    begin
      if exists (select 1 from public.pause_once) then
        delete from public.pause_once;
        perform pg_sleep(1.5);
      end if;
      return null;
    end $$;
    create trigger pause after insert on analytics_marts.inc_merge
      for each statement execute function public.pause();
  `);
  const stale = buildModel(first, p, "inc_merge");
  await new Promise((resolve) => setTimeout(resolve, 500));
  const retry = buildModel(second, p, "inc_merge");
  await Promise.all([stale, retry]);
  const repeated = await first.query<{ id: number; n: number }>(
    `select id, count(*)::int as n from analytics_marts.inc_merge group by id having count(*) > 1
     order by id`,
  );
  assert.deepEqual(repeated, []);
  const [total] = await first.query<{ n: number }>(
    "select count(*)::int as n from analytics_marts.inc_merge",
  );
  assert.equal(total?.n, 50);
});
