/**
 * `sql_header` (dbt's config for SQL that must run right before a model's
 * create statement, in the same session: `set local`, helper functions):
 * given by `{{ config(sql_header=...) }}`, by `{% call set_sql_header(config)
 * %}`, or in dbt_project.yml, for views, tables, both branches of an
 * incremental model and snapshots. Before, the config was refused.
 */

import assert from "node:assert/strict";
import { loadProject, runProject } from "../../../resources/dbt/mod.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { writeProject } from "./_fixture.ts";

const MARK = "set local dbt.header_mark = 'from-header';";

const FILES: Record<string, string> = {
  // A function the header creates: the view cannot be created without it.
  "models/hv.sql":
    `{{ config(materialized='view', sql_header="create or replace function public.hdr_triple(x int) returns int language sql as $$ select x * 3 $$;") }}
select public.hdr_triple(2) as v`,
  "models/marts/ht.sql": `{% call set_sql_header(config) %}
  ${MARK}
{% endcall %}
select current_setting('dbt.header_mark') as mark`,
  "models/hi.sql": `{{ config(materialized='incremental', sql_header="${MARK}") }}
select {{ 2 if is_incremental() else 1 }} as run, current_setting('dbt.header_mark') as mark`,
  "models/from_project.sql": "select current_setting('dbt.project_mark') as mark",
  "snapshots/hs.sql": `{% snapshot hs %}
{{ config(target_schema='snapshots', unique_key='id', strategy='check', check_cols='all', sql_header="${MARK}") }}
select 1 as id, current_setting('dbt.header_mark') as mark
{% endsnapshot %}`,
  "dbt_project.yml": `name: demo
version: "1.0.0"
config-version: 2
profile: demo
models:
  demo:
    +materialized: view
    marts:
      +materialized: table
      +schema: marts
    from_project:
      +materialized: table
      +sql_header: "set local dbt.project_mark = 'p';"
`,
};

Deno.test("sql_header runs before the create of views, tables, incremental models and snapshots", async () => {
  await using project = await writeProject(FILES);
  await using warehouse = await openWarehouse("pglite:memory:");
  for (const round of [1, 2]) {
    const p = await loadProject(project.dir);
    const run = await runProject(p, warehouse, { writeArtifacts: false });
    const failed = run.results.filter((r) => r.status !== "success");
    assert.deepEqual(failed.map((r) => `${r.unique_id}: ${r.message}`), [], `round ${round}`);
  }
  assert.deepEqual(await warehouse.query("select v from analytics.hv"), [{ v: 6 }]);
  assert.deepEqual(await warehouse.query("select mark from analytics_marts.ht"), [{
    mark: "from-header",
  }]);
  assert.deepEqual(
    await warehouse.query("select run, mark from analytics.hi order by run"),
    [{ run: 1, mark: "from-header" }, { run: 2, mark: "from-header" }],
  );
  assert.deepEqual(await warehouse.query("select mark from analytics.from_project"), [{
    mark: "p",
  }]);
  assert.deepEqual(await warehouse.query("select id, mark from snapshots.hs"), [{
    id: 1,
    mark: "from-header",
  }]);
  // `set local` stays in the build's transaction: nothing leaks to the session.
  const [leak] = await warehouse.query<{ m: string | null }>(
    "select current_setting('dbt.header_mark', true) as m",
  );
  assert.ok(leak?.m === null || leak?.m === "", `header leaked: ${String(leak?.m)}`);
});
