/**
 * The dbt runner on DuckDB (`type: duckdb` targets): every materialisation,
 * seeds through DuckDB's CSV reader, snapshots, the `external`
 * materialisation and `external_location` sources, the `duckdb__` macros,
 * and what DuckDB refuses (grants, a project compiled for Postgres).
 */

import assert from "node:assert/strict";
import {
  buildModel,
  DbtError,
  DbtErrorCode,
  type DbtProject,
  loadProject,
  runProject,
} from "../../../resources/dbt/mod.ts";
import {
  attachStatements,
  duckdbTargetUrl,
  externalSourceSql,
} from "../../../resources/dbt/adapters/duckdb.ts";
import { openTarget } from "../../../resources/dbt/cli.ts";
import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { PROJECT_YML, writeProject } from "./_fixture.ts";

const DUCK_PROFILE = `demo:
  target: duck
  outputs:
    duck:
      type: duckdb
      path: ":memory:"
      threads: 2
      external_root: out
    pg:
      type: postgres
      host: localhost
      schema: analytics
`;

const THINGS = `create schema if not exists raw;
  create table raw.things (id int, kind text, amount int, parent_id int, updated_at timestamp);
  insert into raw.things values (1, 'a', 10, null, '2024-01-01'), (2, 'b', 20, 1, '2024-01-01'),
    (3, 'a', 30, 1, '2024-01-01');`;

const SOURCES = `version: 2
sources:
  - name: raw
    tables:
      - name: things
`;

async function setup(files: Record<string, string>) {
  const project = await writeProject({
    "profiles.yml": DUCK_PROFILE,
    "models/sources.yml": SOURCES,
    ...files,
  });
  const warehouse = await openWarehouse("duckdb::memory:", { onNotice: () => {} });
  await warehouse.exec(THINGS);
  return {
    dir: project.dir,
    warehouse,
    load: () => loadProject(project.dir, { cache: false }),
    async [Symbol.asyncDispose]() {
      await warehouse.close();
      await project[Symbol.asyncDispose]();
    },
  };
}

async function ids(warehouse: Warehouse, table: string): Promise<number[]> {
  return (await warehouse.query<{ id: number }>(`select id from ${table} order by id`)).map((r) =>
    r.id
  );
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

Deno.test("duckdb dbt: a duckdb profile defaults schema to main and names the database after the file", async () => {
  await using h = await setup({ "models/m.sql": "select 1 as x" });
  const p = await h.load();
  assert.equal(p.target.type, "duckdb");
  assert.equal(p.target.schema, "main");
  assert.equal(p.target.database, "memory");
  assert.equal(p.models.get("m")?.relation.toString(), '"memory"."main"."m"');
});

Deno.test("duckdb dbt: view, table, incremental strategies and ephemeral build; a failed rebuild keeps the table", async (t) => {
  await using h = await setup({
    "models/v.sql": "select id, kind, amount from {{ source('raw', 'things') }}",
    "models/eph.sql":
      "{{ config(materialized='ephemeral') }}\nselect id, amount * 2 as twice from {{ ref('v') }}",
    "models/marts/t.sql": "select * from {{ ref('v') }}",
    "models/marts/uses_eph.sql": "select * from {{ ref('eph') }}",
    "models/marts/inc_append.sql": `{{ config(materialized='incremental') }}
select id, kind, amount from {{ ref('v') }}
{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}`,
    "models/marts/inc_delete.sql":
      `{{ config(materialized='incremental', unique_key='id', incremental_strategy='delete+insert') }}
select id, kind, amount from {{ ref('v') }}
{% if is_incremental() %}where id >= (select max(id) from {{ this }}){% endif %}`,
    "models/marts/inc_merge.sql":
      `{{ config(materialized='incremental', unique_key=['id'], incremental_strategy='merge') }}
select id, kind, amount from {{ ref('v') }}`,
  });
  const p = await h.load();
  const wh = h.warehouse;
  await t.step("first build", async () => {
    for (const name of ["v", "t", "uses_eph", "inc_append", "inc_delete", "inc_merge"]) {
      await buildModel(wh, p, name);
    }
    assert.deepEqual(await ids(wh, "main.v"), [1, 2, 3]);
    assert.deepEqual(await ids(wh, "main_marts.t"), [1, 2, 3]);
    assert.deepEqual(
      await wh.query("select id, twice from main_marts.uses_eph order by id"),
      [{ id: 1, twice: 20 }, { id: 2, twice: 40 }, { id: 3, twice: 60 }],
    );
  });
  await t.step("second build after new and changed rows", async () => {
    await wh.exec(
      "insert into raw.things values (4, 'b', 40, 2, '2024-01-02'); update raw.things set amount = 33 where id = 3",
    );
    const append = await buildModel(wh, p, "inc_append");
    assert.equal(append.incremental, true);
    assert.equal(append.rowsAffected, 1);
    const deleted = await buildModel(wh, p, "inc_delete");
    assert.equal(deleted.rowsAffected, 2); // ids 3 and 4, id 3 replaced
    await buildModel(wh, p, "inc_merge");
    for (const table of ["inc_append", "inc_delete", "inc_merge"]) {
      assert.deepEqual(await ids(wh, `main_marts.${table}`), [1, 2, 3, 4], table);
    }
    assert.deepEqual(
      await wh.query("select amount from main_marts.inc_delete where id = 3"),
      [{ amount: 33 }],
    );
    assert.deepEqual(
      await wh.query("select amount from main_marts.inc_append where id = 3"),
      [{ amount: 30 }], // append never rewrites
    );
    const table = await buildModel(wh, p, "t");
    assert.equal(table.rowsAffected, 4);
  });
  await t.step("full refresh rebuilds an incremental model", async () => {
    const full = await buildModel(wh, p, "inc_append", { fullRefresh: true });
    assert.equal(full.incremental, false);
    assert.deepEqual(
      await wh.query("select amount from main_marts.inc_append where id = 3"),
      [{ amount: 33 }],
    );
  });
  await t.step(
    "a failed rebuild names the file and keeps the old table; nothing left behind",
    async () => {
      await Deno.writeTextFile(
        `${h.dir}/models/marts/t.sql`,
        "select id,\n  nope\nfrom {{ ref('v') }}",
      );
      const broken = await loadProject(h.dir, { cache: false });
      const error = await rejection(buildModel(wh, broken, "t"));
      assert.ok(error instanceof DbtError, String(error));
      assert.equal(error.code, DbtErrorCode.modelFailed);
      assert.match(error.message, /models\/marts\/t\.sql.*model 't' failed/);
      assert.deepEqual(await ids(wh, "main_marts.t"), [1, 2, 3, 4]);
      const leftovers = await wh.query(
        `select table_name from duckdb_tables() where table_name like '%dbt_tmp' or table_name like '%dbt_backup'
       union all select view_name from duckdb_views() where view_name like '%dbt_tmp'`,
      );
      assert.deepEqual(leftovers, []);
    },
  );
});

Deno.test("duckdb dbt: seeds are read by DuckDB's CSV reader, typed like dbt-duckdb", async () => {
  await using h = await setup({
    "dbt_project.yml": `${PROJECT_YML}seeds:
  demo:
    codes:
      +delimiter: ";"
      +column_types: {code: varchar(3)}
`,
    "seeds/codes.csv": 'code;Label;since\nA01;"First; one";2024-01-02\nB02;"two\nlines";\n',
    "seeds/people.csv":
      'id,name,active,score,seen\n1,Ann,true,1.25,2024-01-02 03:04:05\n2,"O""Brien",false,,\n',
  });
  const p = await h.load();
  const run = await runProject(p, h.warehouse, { writeArtifacts: false });
  assert.equal(run.success, true, JSON.stringify(run.results.map((r) => r.message)));
  const types = await h.warehouse.columns("main", "people");
  assert.deepEqual(types.map((c) => [c.name, c.type]), [
    ["id", "INTEGER"],
    ["name", "VARCHAR"],
    ["active", "BOOLEAN"],
    ["score", "DOUBLE"], // not DuckDB's numeric = DECIMAL(18,3)
    ["seen", "TIMESTAMP"],
  ]);
  assert.deepEqual(await h.warehouse.query("select * from main.people order by id"), [
    { id: 1, name: "Ann", active: true, score: 1.25, seen: new Date("2024-01-02T03:04:05Z") },
    { id: 2, name: 'O"Brien', active: false, score: null, seen: null },
  ]);
  assert.deepEqual(
    await h.warehouse.query('select code, "Label", since from main.codes order by code'),
    [
      { code: "A01", Label: "First; one", since: new Date("2024-01-02T00:00:00Z") },
      { code: "B02", Label: "two\nlines", since: null },
    ],
  );
  // A value the declared type refuses: DuckDB's reader names the line.
  await Deno.writeTextFile(`${h.dir}/seeds/people.csv`, "id,name\n1,a\nx,b\n");
  await Deno.writeTextFile(
    `${h.dir}/dbt_project.yml`,
    `${PROJECT_YML}seeds:\n  demo:\n    people:\n      +column_types: {id: integer}\n`,
  );
  const bad = await loadProject(h.dir, { cache: false });
  const error = await rejection(buildModel(h.warehouse, bad, "people"));
  assert.ok(error instanceof DbtError, String(error));
  assert.match(error.message, /seed 'people' does not load: .*CSV Error on Line: 3/s);
  assert.deepEqual(await ids(h.warehouse, "main.people"), [1, 2], "the old seed table stays");
});

Deno.test("duckdb dbt: a blank line of a seed is a row of nulls, as dbt's agate reads it", async () => {
  // DuckDB's reader skips blank lines; dbt loads one as a row whose values are all null.
  await using h = await setup({
    "seeds/points.csv": "a,b\n1,1\n,2\n\n4,4\n",
  });
  const run = await runProject(await h.load(), h.warehouse, { writeArtifacts: false });
  assert.equal(run.success, true, JSON.stringify(run.results.map((r) => r.message)));
  assert.deepEqual(
    await h.warehouse.query(
      "select count(*)::int as n, count(a)::int as a, count(b)::int as b from main.points",
    ),
    [{ n: 4, a: 2, b: 3 }],
  );
});

Deno.test("duckdb dbt: snapshots keep history (timestamp and check strategies, hard deletes)", async () => {
  await using h = await setup({
    "snapshots/snap.sql": `{% snapshot things_snap %}
{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at', hard_deletes='new_record') }}
select * from {{ source('raw', 'things') }}
{% endsnapshot %}`,
    "snapshots/check.sql": `{% snapshot things_check %}
{{ config(target_schema='snapshots', unique_key='id', strategy='check', check_cols=['amount'], hard_deletes='invalidate') }}
select id, amount from {{ source('raw', 'things') }}
{% endsnapshot %}`,
  });
  const p = await h.load();
  const run = async () => {
    const result = await runProject(p, h.warehouse, { writeArtifacts: false });
    assert.equal(result.success, true, JSON.stringify(result.results.map((r) => r.message)));
  };
  await run();
  await h.warehouse.exec(`update raw.things set amount = 11, updated_at = '2024-02-01' where id = 1;
    delete from raw.things where id = 2;`);
  await run();
  assert.deepEqual(
    await h.warehouse.query(
      `select id, amount, dbt_valid_to is null as current, dbt_is_deleted as deleted
       from snapshots.things_snap order by id, dbt_valid_from, dbt_is_deleted`,
    ),
    [
      { id: 1, amount: 10, current: false, deleted: "False" },
      { id: 1, amount: 11, current: true, deleted: "False" },
      { id: 2, amount: 20, current: false, deleted: "False" },
      { id: 2, amount: 20, current: true, deleted: "True" },
      { id: 3, amount: 30, current: true, deleted: "False" },
    ],
  );
  assert.deepEqual(
    await h.warehouse.query(
      `select id, amount, dbt_valid_to is null as current from snapshots.things_check
       order by id, dbt_valid_from`,
    ),
    [
      { id: 1, amount: 10, current: false },
      { id: 1, amount: 11, current: true },
      { id: 2, amount: 20, current: false },
      { id: 3, amount: 30, current: true },
    ],
  );
  // A deleted record comes back: its deletion row is closed and a new current row opens, as
  // dbt-adapters does (before: the deletion row stayed current beside it, two current rows).
  await h.warehouse.exec(`insert into raw.things values (2, 'b', 21, 1, '2024-03-01')`);
  await run();
  await run();
  assert.deepEqual(
    await h.warehouse.query(
      `select id, amount, dbt_valid_to is null as current, dbt_is_deleted as deleted
       from snapshots.things_snap where id = 2 order by amount, dbt_is_deleted`,
    ),
    [
      { id: 2, amount: 20, current: false, deleted: "False" },
      { id: 2, amount: 20, current: false, deleted: "True" },
      { id: 2, amount: 21, current: true, deleted: "False" },
    ],
  );
});

Deno.test("duckdb dbt: the external materialization writes Parquet/CSV files with a view over them", async () => {
  await using h = await setup({
    "models/ext_default.sql":
      "{{ config(materialized='external') }}\nselect * from {{ source('raw', 'things') }}",
    "models/ext_csv.sql":
      `{{ config(materialized='external', location='files/things.csv', delimiter='|') }}
select id, kind from {{ source('raw', 'things') }}`,
    "models/ext_parts.sql":
      `{{ config(materialized='external', location='files/by_kind', format='parquet', options={'partition_by': 'kind'}) }}
select id, kind from {{ source('raw', 'things') }}`,
    "models/reads_ext.sql": "select count(*) as n from {{ ref('ext_default') }}",
  });
  const p = await h.load();
  const run = await runProject(p, h.warehouse, { writeArtifacts: false });
  assert.equal(run.success, true, JSON.stringify(run.results.map((r) => r.message)));
  // external_root: out (relative to the project); the default format is parquet.
  const parquet = `${h.dir}/out/ext_default.parquet`;
  assert.deepEqual(
    await h.warehouse.query(`select count(*)::int as n from read_parquet('${parquet}')`),
    [{ n: 3 }],
  );
  assert.deepEqual(await h.warehouse.query("select n::int as n from main.reads_ext"), [{ n: 3 }]);
  const csv = await Deno.readTextFile(`${h.dir}/files/things.csv`);
  assert.equal(csv.split("\n")[0], "id|kind");
  assert.deepEqual(
    await h.warehouse.query("select id::int as id, kind from main.ext_csv order by id"),
    [{ id: 1, kind: "a" }, { id: 2, kind: "b" }, { id: 3, kind: "a" }],
  );
  const partitions = [...Deno.readDirSync(`${h.dir}/files/by_kind`)].map((e) => e.name).sort();
  assert.deepEqual(partitions, ["kind=a", "kind=b"]);
  assert.deepEqual(
    await h.warehouse.query(
      "select kind, count(*)::int as n from main.ext_parts group by kind order by kind",
    ),
    [{ kind: "a", n: 2 }, { kind: "b", n: 1 }],
  );
  // A second run replaces the files (no appended duplicates).
  await h.warehouse.exec("insert into raw.things values (4, 'b', 40, 2, '2024-01-02')");
  assert.equal((await runProject(p, h.warehouse, { writeArtifacts: false })).success, true);
  assert.deepEqual(await h.warehouse.query("select n::int as n from main.reads_ext"), [{ n: 4 }]);
  assert.deepEqual(
    await h.warehouse.query("select count(*)::int as n from main.ext_parts"),
    [{ n: 4 }],
  );
  // A Postgres warehouse refuses it by name.
  const pgProject = await loadProject(h.dir, { cache: false, target: "pg" });
  await using pglite = await openWarehouse("pglite:memory:");
  const error = await rejection(buildModel(pglite, pgProject, "ext_default"));
  assert.ok(error instanceof DbtError, String(error));
  assert.match(error.message, /materialized='external'.*needs a DuckDB target/);
});

Deno.test("duckdb dbt: sources read in place through meta.external_location", async () => {
  await using h = await setup({
    "models/sources.yml": `version: 2
sources:
  - name: files
    meta:
      external_location: "{{ env_var('EXT_ROOT') }}/{name}.parquet"
    tables:
      - name: things
      - name: picked
        meta:
          external_location: "read_csv('{{ env_var('EXT_ROOT') }}/picked.csv', header = true)"
      - name: old
        meta:
          external_location: "%(identifier)s"
          formatter: oldstyle
        identifier: "/nowhere/old.parquet"
  - name: raw
    tables:
      - name: things
`,
    "models/from_files.sql":
      "select t.id, p.label from {{ source('files', 'things') }} t join {{ source('files', 'picked') }} p using (id)",
  });
  const root = `${h.dir}/ext`;
  await Deno.mkdir(root);
  await h.warehouse.exec(
    `copy (select id, kind from raw.things) to '${root}/things.parquet' (format parquet)`,
  );
  await Deno.writeTextFile(`${root}/picked.csv`, "id,label\n2,two\n3,three\n");
  Deno.env.set("EXT_ROOT", root);
  try {
    const p = await h.load();
    const sources = [...p.sources.values()];
    const printed = (name: string) =>
      sources.find((s) => s.sourceName === "files" && s.name === name)?.relation.toString();
    assert.equal(printed("things"), `'${root}/things.parquet'`);
    assert.equal(printed("picked"), `read_csv('${root}/picked.csv', header = true)`);
    assert.equal(printed("old"), "'/nowhere/old.parquet'");
    await buildModel(h.warehouse, p, "from_files");
    assert.deepEqual(await h.warehouse.query("select id, label from main.from_files order by id"), [
      { id: 2, label: "two" },
      { id: 3, label: "three" },
    ]);
    // On a Postgres target the same meta is free metadata: the source is a table.
    const pg = await loadProject(h.dir, { cache: false, target: "pg" });
    const pgThings = [...pg.sources.values()].find((s) => s.sourceName === "files");
    assert.equal(pgThings?.relation.toString(), '"postgres"."files"."things"');
  } finally {
    Deno.env.delete("EXT_ROOT");
  }
});

Deno.test("duckdb dbt: external_location formatting and its errors", () => {
  const fields = {
    name: "orders",
    identifier: "orders_v2",
    schema: "lake",
    database: "db",
    zone: "eu",
  };
  const cases: [string, string | undefined, string][] = [
    ["s3://bucket/{zone}/{name}.parquet", undefined, "'s3://bucket/eu/orders.parquet'"],
    [
      "read_parquet(['a/{identifier}.parquet'])",
      "newstyle",
      "read_parquet(['a/orders_v2.parquet'])",
    ],
    ["/data/%(schema)s/%(name)s.csv", "oldstyle", "'/data/lake/orders.csv'"],
    ["/data/${database}/$name.json", "template", "'/data/db/orders.json'"],
    ["/it's/{name}.parquet", undefined, "'/it''s/orders.parquet'"],
  ];
  for (const [location, formatter, expected] of cases) {
    assert.equal(externalSourceSql(location, fields, formatter), expected, location);
  }
  assert.throws(() => externalSourceSql("/x/{nope}.parquet", fields), /names \{nope\}/);
  assert.throws(() => externalSourceSql("/x", fields, "fancy"), /formatter 'fancy'/);
});

Deno.test("duckdb dbt: duckdb__ macros run on DuckDB; dispatch falls back to default__", async () => {
  await using h = await setup({
    "macros/greet.sql": `{% macro greet() %}{{ return(adapter.dispatch('greet')()) }}{% endmacro %}
{% macro default__greet() %}'default'{% endmacro %}
{% macro postgres__greet() %}'postgres'{% endmacro %}
{% macro only_default() %}{{ return(adapter.dispatch('only_default')()) }}{% endmacro %}
{% macro default__only_default() %}'fallback'{% endmacro %}
{% macro duckdb__greet() %}'duckdb'{% endmacro %}`,
    "models/m.sql": `{{ config(materialized='table') }}
select
  {{ greet() }} as greeting,
  {{ only_default() }} as fallback,
  {{ dbt.dateadd('day', 2, "date '2024-01-30'") }}::date as plus_two,
  {{ dbt.datediff("date '2024-01-01'", "date '2024-03-15'", 'month') }} as months,
  {{ dbt.datediff("timestamp '2024-01-01 23:00'", "timestamp '2024-01-02 01:00'", 'day') }} as days,
  {{ dbt.last_day("date '2024-02-10'", 'month') }} as month_end,
  {{ dbt.split_part("'a/b/c'", "'/'", 2) }} as second,
  {{ dbt.split_part("'a/b/c'", "'/'", -1) }} as last,
  {{ dbt.hash("'x'") }} as hashed,
  {{ dbt.safe_cast("'nope'", dbt.type_int()) }} as safe,
  {{ dbt.date(2024, 5, 6) }} as made,
  cast(1.5 as {{ dbt.type_float() }}) as f,
  cast('7' as {{ dbt.type_bigint() }}) as big,
  {{ dbt.cast_bool_to_text('true') }} as bool_text,
  (select count(*) from ({{ dbt.generate_series(4) }})) as series,
  (select {{ dbt.listagg('x', "','", "order by x", 2) }} from (values ('c'), ('a'), ('b')) t(x)) as agg`,
  });
  const p = await h.load();
  await buildModel(h.warehouse, p, "m");
  const [row] = await h.warehouse.query("select * from main.m");
  assert.deepEqual(row, {
    greeting: "duckdb",
    fallback: "fallback",
    plus_two: new Date("2024-02-01T00:00:00Z"),
    months: 2n,
    days: 1n,
    month_end: new Date("2024-02-29T00:00:00Z"),
    second: "b",
    last: "c",
    hashed: "9dd4e461268c8034f5c8564e155c67a6",
    safe: null,
    made: new Date("2024-05-06T00:00:00Z"),
    f: 1.5,
    big: 7n,
    bool_text: "true",
    series: 4n,
    agg: "a,b",
  });
});

Deno.test("duckdb dbt: grants are refused by name; a project compiled for Postgres is refused on DuckDB", async () => {
  await using h = await setup({
    "models/g.sql":
      "{{ config(materialized='table', grants={'select': ['reporter']}) }}\nselect 1 as x",
    "models/m.sql": "select 1 as x",
  });
  const error = await rejection(buildModel(h.warehouse, await h.load(), "g"));
  assert.ok(error instanceof DbtError, String(error));
  assert.equal(error.code, DbtErrorCode.unsupported);
  assert.match(error.message, /models\/g\.sql.*DuckDB has no roles or privileges/);
  const forPostgres: DbtProject = await loadProject(h.dir, { cache: false, target: "pg" });
  const mismatch = await rejection(buildModel(h.warehouse, forPostgres, "m"));
  assert.ok(mismatch instanceof DbtError, String(mismatch));
  assert.match(mismatch.message, /compiled for target 'pg' of type 'postgres'.*is duckdb/);
});

Deno.test("duckdb dbt: contracts and on_schema_change use DuckDB's types", async () => {
  await using h = await setup({
    "models/c.sql":
      "{{ config(materialized='table', contract={'enforced': true}) }}\nselect 1 as id, 'x'::varchar as name",
    "models/schema.yml": `version: 2
models:
  - name: c
    columns:
      - name: id
        data_type: int
      - name: name
        data_type: text
  - name: bad
    config: {contract: {enforced: true}}
    columns:
      - name: id
        data_type: bigint
  - name: grows
    config: {on_schema_change: append_new_columns}
`,
    "models/bad.sql": "{{ config(materialized='table') }}\nselect 1 as id",
    "models/grows.sql": `{{ config(materialized='incremental') }}
select id{% if var('wide', false) %}, kind{% endif %} from {{ source('raw', 'things') }}`,
  });
  const p = await h.load();
  await buildModel(h.warehouse, p, "c");
  const error = await rejection(buildModel(h.warehouse, p, "bad"));
  assert.ok(error instanceof DbtError, String(error));
  assert.match(error.message, /column 'id' is INTEGER, declared bigint/);
  await buildModel(h.warehouse, p, "grows");
  const wide = await loadProject(h.dir, { cache: false, vars: { wide: true } });
  await buildModel(h.warehouse, wide, "grows");
  assert.deepEqual(
    (await h.warehouse.columns("main", "grows")).map((c) => c.name),
    ["id", "kind"],
  );
});

Deno.test("duckdb dbt: a duckdb target opens its file with extensions and settings, and attaches", async () => {
  await using h = await setup({ "models/m.sql": "select * from other.main.t" });
  const otherPath = `${h.dir}/other.duckdb`;
  {
    await using other = await openWarehouse(`duckdb:${otherPath}`);
    await other.exec("create table main.t (id int); insert into main.t values (7)");
  }
  const fields = {
    path: "warehouse.duckdb",
    extensions: ["parquet", { name: "json" }],
    settings: { threads: 1 },
    attach: [{ path: "other.duckdb", alias: "other", read_only: true }],
  };
  assert.equal(
    duckdbTargetUrl(fields, h.dir),
    `duckdb:${h.dir}/warehouse.duckdb?extensions=parquet%2Cjson&threads=1`,
  );
  assert.deepEqual(attachStatements(fields.attach, h.dir), [
    `attach if not exists '${otherPath}' as "other" (read_only)`,
  ]);
  assert.throws(
    () => duckdbTargetUrl({ extensions: "spatial" }, h.dir),
    /extensions must be a list/,
  );
  assert.throws(() => attachStatements([{ alias: "x" }], h.dir), /attach\[0\] needs a path/);
  const profile = `demo:
  target: file
  outputs:
    file:
      type: duckdb
      path: warehouse.duckdb
      extensions: [parquet]
      settings: {threads: 1}
      attach:
        - path: other.duckdb
          alias: other
          read_only: true
`;
  await Deno.writeTextFile(`${h.dir}/profiles.yml`, profile);
  const p = await h.load();
  await using warehouse = await openTarget(p, undefined, () => undefined);
  assert.equal(warehouse.location, `${h.dir}/warehouse.duckdb`);
  await buildModel(warehouse, p, "m");
  assert.deepEqual(await warehouse.query("select id from main.m"), [{ id: 7 }]);
  assert.deepEqual(
    await warehouse.query("select current_setting('threads') as t"),
    [{ t: 1n }],
  );
});

Deno.test("duckdb dbt: a source not loaded yet, or lake files not written yet, is named as missing upstream", async () => {
  await using h = await setup({
    "models/sources.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: never_loaded
  - name: lake
    meta:
      external_location: "{{ env_var('EXT_ROOT', '/nonexistent') }}/*/{name}.parquet"
    tables:
      - name: layers
`,
    "models/a.sql": "select * from {{ source('raw', 'never_loaded') }}",
    "models/b.sql": "select * from {{ source('lake', 'layers') }}",
  });
  const p = await h.load();
  for (
    const [model, upstream] of [["a", "source.demo.raw.never_loaded"], [
      "b",
      "source.demo.lake.layers",
    ]]
  ) {
    const error = await rejection(buildModel(h.warehouse, p, model as string));
    assert.ok(error instanceof DbtError, String(error));
    assert.equal(error.code, DbtErrorCode.missingUpstream, error.message);
    assert.match(error.message, new RegExp(upstream as string));
  }
});

Deno.test("duckdb dbt: deno task dbt build on a type: duckdb profile writes the DuckDB file; docs generate catalogs it", async () => {
  const { runDbtCli } = await import("../../../resources/dbt/cli.ts");
  await using project = await writeProject({
    "profiles.yml": `demo:
  target: duck
  outputs:
    duck:
      type: duckdb
      path: build.duckdb
      threads: 2
      attach:
        - path: other.duckdb
          alias: other
`,
    "seeds/kinds.csv": "kind,label\na,Apple\nb,Banana\n",
    "models/marts/labelled.sql": "select k.kind, k.label, 1 as n from {{ ref('kinds') }} k",
    "models/marts/schema.yml": `version: 2
models:
  - name: labelled
    columns:
      - name: kind
        data_tests: [unique, not_null]
`,
  });
  {
    // An attached database with a table of the seed's schema and name, other columns.
    await using other = await openWarehouse(`duckdb:${project.dir}/other.duckdb`);
    await other.exec("create table main.kinds (x int)");
  }
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const env = (name: string) =>
    ({ STATE_DIR: `${project.dir}/state` } as Record<string, string>)[name];
  const code = await runDbtCli(["build", "--project-dir", project.dir], io, { env });
  assert.equal(code, 0, lines.join("\n"));
  // Before: docs generate failed on DuckDB (jsonb_array_elements_text does not exist).
  const docs = await runDbtCli(["docs", "generate", "--project-dir", project.dir], io, { env });
  assert.equal(docs, 0, lines.join("\n"));
  const written = /Catalog written to (.*)$/m.exec(lines.join("\n"))?.[1];
  assert.ok(written, lines.join("\n"));
  const catalog = JSON.parse(await Deno.readTextFile(written));
  const columns = (id: string) => Object.keys(catalog.nodes[id]?.columns ?? {});
  assert.deepEqual(columns("model.demo.labelled"), ["kind", "label", "n"]);
  assert.deepEqual(columns("seed.demo.kinds"), ["kind", "label"]);
  assert.equal(catalog.nodes["seed.demo.kinds"].metadata.database, "build");
  await using warehouse = await openWarehouse(`duckdb:${project.dir}/build.duckdb`);
  assert.deepEqual(
    await warehouse.query("select kind, label from main_marts.labelled order by kind"),
    [{ kind: "a", label: "Apple" }, { kind: "b", label: "Banana" }],
  );
});

Deno.test("duckdb dbt: a database file named as the schema (gl.duckdb, schema gl) builds; relations print database.schema.identifier", async () => {
  // Before: every build failed with DuckDB's "Ambiguous reference to catalog or schema "gl""
  // (relations printed "gl"."m", which names catalog gl or schema gl); dbt-duckdb prints
  // "gl"."gl"."m".
  const { runDbtCli } = await import("../../../resources/dbt/cli.ts");
  await using project = await writeProject({
    "profiles.yml": `demo:
  target: duck
  outputs:
    duck:
      type: duckdb
      path: gl.duckdb
      schema: gl
`,
    "seeds/kinds.csv": "kind,label\na,Apple\nb,Banana\n",
    "models/v.sql": "select kind, label from {{ ref('kinds') }}",
    "models/marts/t.sql": "{{ config(materialized='table') }} select * from {{ ref('v') }}",
    "models/marts/inc.sql": `{{ config(materialized='incremental', unique_key='kind') }}
select * from {{ ref('t') }}{% if is_incremental() %} where kind > (select max(kind) from {{ this }}){% endif %}`,
    "models/marts/schema.yml": `version: 2
models:
  - name: inc
    columns:
      - name: kind
        data_tests: [unique, not_null]
`,
  });
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const env = (name: string) =>
    ({ STATE_DIR: `${project.dir}/state` } as Record<string, string>)[name];
  const target = `${project.dir}/target`;
  for (const run of [1, 2]) {
    const args = ["build", "--project-dir", project.dir, "--target-path", target];
    const code = await runDbtCli(args, io, { env });
    assert.equal(code, 0, `build ${run}:\n${lines.join("\n")}`);
  }
  assert.match(lines.join("\n"), /OK created sql view model "gl"\."gl"\."v"/);
  const compiled = await Deno.readTextFile(`${target}/compiled/demo/models/marts/t.sql`);
  assert.match(compiled, /from "gl"\."gl"\."v"/);
  const manifest = JSON.parse(await Deno.readTextFile(`${target}/manifest.json`));
  assert.equal(manifest.nodes["model.demo.v"].relation_name, '"gl"."gl"."v"');
  await using warehouse = await openWarehouse(`duckdb:${project.dir}/gl.duckdb`);
  assert.deepEqual(
    await warehouse.query("select kind, label from gl.gl_marts.inc order by kind"),
    [{ kind: "a", label: "Apple" }, { kind: "b", label: "Banana" }],
  );
});

Deno.test("duckdb dbt: --warehouse-url names the database relations print (analytics.duckdb, schema analytics, profile in memory); target/run holds the executed SQL", async () => {
  // Before: relations took the profile's database (path ':memory:' is "memory"), so on the
  // warehouse the URL opened every model failed ("memory"."analytics"."v" does not exist);
  // without the database part, "analytics"."v" is ambiguous in analytics.duckdb.
  const { runDbtCli } = await import("../../../resources/dbt/cli.ts");
  await using project = await writeProject({
    "profiles.yml": `demo:
  target: duck
  outputs:
    duck:
      type: duckdb
      path: ":memory:"
      schema: analytics
`,
    "seeds/kinds.csv": "kind,label\na,Apple\nb,Banana\n",
    "models/v.sql": "select kind, label from {{ ref('kinds') }}",
    "models/t.sql": "{{ config(materialized='table') }} select * from {{ ref('v') }}",
    "models/inc.sql": `{{ config(materialized='incremental', unique_key='kind') }}
select * from {{ ref('t') }}{% if is_incremental() %} where kind >= 'b'{% endif %}`,
  });
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const url = `duckdb:${project.dir}/analytics.duckdb`;
  const target = `${project.dir}/target`;
  for (const run of [1, 2]) {
    const args = ["build", "--project-dir", project.dir, "--target-path", target];
    const code = await runDbtCli([...args, "--warehouse-url", url], io, { env: () => undefined });
    assert.equal(code, 0, `build ${run}:\n${lines.join("\n")}`);
  }
  const compiled = await Deno.readTextFile(`${target}/compiled/demo/models/t.sql`);
  assert.match(compiled, /from "analytics"\."analytics"\."v"/);
  // dbt's target/run/: the statements each model executed.
  const table = await Deno.readTextFile(`${target}/run/demo/models/t.sql`);
  assert.match(
    table,
    /create table "analytics"\."analytics"\."t__dbt_tmp" as \(\n select \* from "analytics"\."analytics"\."v"\n\);/,
  );
  const view = await Deno.readTextFile(`${target}/run/demo/models/v.sql`);
  assert.match(view, /create view "analytics"\."analytics"\."v__dbt_tmp" as \(/);
  // The second run was incremental: its delete and insert are what ran.
  const inc = await Deno.readTextFile(`${target}/run/demo/models/inc.sql`);
  assert.match(inc, /where kind >= 'b'/);
  assert.match(inc, /delete from "analytics"\."analytics"\."inc" where \("kind"\) in/);
  assert.match(inc, /insert into "analytics"\."analytics"\."inc" \("kind", "label"\) select/);
  assert.doesNotMatch(inc, /create table "analytics"\."analytics"\."inc__dbt_tmp"/);
  await using warehouse = await openWarehouse(url);
  assert.deepEqual(
    await warehouse.query("select kind, label from analytics.analytics.inc order by kind"),
    [{ kind: "a", label: "Apple" }, { kind: "b", label: "Banana" }],
  );
});
