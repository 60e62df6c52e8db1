/**
 * dbt runner: parse and compile a generated project of 1,000 models (each
 * with a schema.yml entry, columns and tests; refs between layers; a macro),
 * and the per-model run overhead on PGlite and on PostgreSQL.
 *
 * Baselines measured in the same run:
 * - parse+compile against reading the same files and parsing their YAML
 *   (the I/O and YAML floor every runner pays);
 * - run overhead against issuing the same `create view` statements directly
 *   on the warehouse (no compile, no swap transaction, no artifacts).
 *
 *     deno run -A bench/dbt.ts [models] [run_models]
 *
 * @module
 */

import process from "node:process";
import { parse as parseYaml } from "yaml";
import { loadProject, runProject } from "../resources/dbt/mod.ts";
import { openWarehouse, type Warehouse } from "../resources/warehouse/mod.ts";
import { startPostgres } from "../tests/_helpers/postgres.ts";

const ROUNDS = 5;

/** Runs the benchmark and prints its figures. */
export async function main(
  models = Number(Deno.args[0] ?? 1000),
  runModels = Number(Deno.args[1] ?? 200),
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-dbt-" });
  try {
    await generate(dir, models);
    await benchColdProcess(dir);
    await benchCompile(dir, models);
    const small = await Deno.makeTempDir({ prefix: "bench-dbt-run-" });
    try {
      await generate(small, runModels);
      await benchRun("pglite (memory)", small, runModels, () => openWarehouse("pglite:memory:"));
      const pg = await startPostgres({ databaseUrl: undefined });
      try {
        await benchRun("postgres", small, runModels, () => openWarehouse(pg.url));
      } finally {
        await pg.stop();
      }
    } finally {
      await Deno.remove(small, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a layered project: 10 folders of models, each model refs up to two earlier ones. */
export async function generate(dir: string, models: number): Promise<void> {
  await Deno.writeTextFile(
    `${dir}/dbt_project.yml`,
    `name: bench\nversion: "1"\nconfig-version: 2\nprofile: bench\nvars:\n  factor: 3\n` +
      `models:\n  bench:\n    +materialized: view\n    layer_0:\n      +schema: base\n`,
  );
  await Deno.writeTextFile(
    `${dir}/profiles.yml`,
    `bench:\n  target: embedded\n  outputs:\n    embedded:\n      type: postgres\n      schema: bench\n`,
  );
  await Deno.mkdir(`${dir}/macros`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/macros/scale.sql`,
    "{% macro scale(col) %}({{ col }} * {{ var('factor') }}){% endmacro %}",
  );
  const perFolder = Math.ceil(models / 10);
  for (let folder = 0; folder * perFolder < models; folder++) {
    const path = `${dir}/models/layer_${folder}`;
    await Deno.mkdir(path, { recursive: true });
    let yml = "version: 2\nmodels:\n";
    for (let i = folder * perFolder; i < Math.min(models, (folder + 1) * perFolder); i++) {
      const name = `m_${String(i).padStart(4, "0")}`;
      // One parent in the previous folder and one leaf of the first: refs cross
      // folders while views nest at most 10 deep (planning stays linear).
      const parents = folder === 0
        ? []
        : [i - perFolder, i % perFolder].filter((p, k, a) => a.indexOf(p) === k);
      const from = parents.length === 0
        ? "(select 1 as id, 'a' as kind) as seed"
        : parents.map((p, k) => `{{ ref('m_${String(p).padStart(4, "0")}') }} as p${k}`).join(
          " cross join ",
        );
      const sql = parents.length === 0
        ? `select id, kind, {{ scale('id') }} as amount from ${from}`
        : `{%- set cols = ['id', 'kind'] %}\nselect {% for c in cols %}p0.{{ c }}, {% endfor %}` +
          `{{ scale('p0.amount') }} as amount\nfrom ${from}\nlimit 1`;
      await Deno.writeTextFile(`${path}/${name}.sql`, sql);
      yml += `  - name: ${name}\n    description: Generated model ${i}.\n    columns:\n` +
        `      - name: id\n        description: Id.\n        data_tests: [not_null, unique]\n` +
        `      - name: kind\n        data_tests:\n          - accepted_values:\n` +
        `              values: ['a', 'b']\n`;
    }
    await Deno.writeTextFile(`${path}/schema.yml`, yml);
  }
}

async function benchCompile(dir: string, models: number): Promise<void> {
  const cold = await cpuTimed(() => loadProject(dir, { cache: false })); // JIT warm-up
  const baseline: Timing[] = [];
  const fresh: Timing[] = [];
  const cached: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    baseline.push(await cpuTimed(() => readAndParse(dir)));
    fresh.push(await cpuTimed(() => loadProject(dir, { cache: false })));
    cached.push(await cpuTimed(() => loadProject(dir)));
  }
  const project = await loadProject(dir);
  const [load1] = Deno.loadavg();
  console.log(
    `parse+compile ${models} models, ${project.tests.length} tests ` +
      `(load average ${
        load1?.toFixed(1)
      } on ${navigator.hardwareConcurrency} cores; wall / cpu ms):`,
  );
  const line = (label: string, list: readonly Timing[]) => {
    const wall = best(list, "wall");
    const cpu = best(list, "cpu");
    console.log(
      `  ${label.padEnd(44)} best ${ms(wall)} / ${ms(cpu)}, median ${
        ms(median(list.map((t) => t.wall)))
      } / ` +
        `${ms(median(list.map((t) => t.cpu)))}`,
    );
  };
  console.log(
    `  ${"first load in this process (cold JIT, no cache)".padEnd(44)} ${ms(cold.wall)} / ${
      ms(cold.cpu)
    }`,
  );
  line("warm, compiling every template", fresh);
  line("warm, parse cache (unchanged files)", cached);
  line("baseline: read files + parse YAML only", baseline);
  const b = best(baseline, "cpu");
  console.log(
    `  ratios (cpu): compile/baseline ${(best(fresh, "cpu") / b).toFixed(1)}x, ` +
      `cached/baseline ${(best(cached, "cpu") / b).toFixed(1)}x; ` +
      `target < 1000 ms warm: ${best(fresh, "wall") < 1000 ? "met" : "NOT met"}`,
  );
}

/**
 * What `deno task materialize` pays: a new process loading the project once,
 * first with no parse cache, then with the cache the first wrote.
 */
async function benchColdProcess(dir: string): Promise<void> {
  const once = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--load-once", dir],
      stdout: "piped",
    }).output();
    if (!out.success) throw new Error("bench: the --load-once child failed");
    return JSON.parse(new TextDecoder().decode(out.stdout)) as Timing;
  };
  const first = await once();
  const second = await once();
  console.log(
    `new process, one load (wall / cpu ms): no cache ${ms(first.wall)} / ${ms(first.cpu)}, ` +
      `with cache ${ms(second.wall)} / ${ms(second.cpu)}`,
  );
}

/** Wall and CPU (user + system, all threads) time of one call. */
interface Timing {
  readonly wall: number;
  readonly cpu: number;
}

async function cpuTimed(fn: () => Promise<unknown>): Promise<Timing> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await fn();
  const used = process.cpuUsage(cpu);
  return { wall: performance.now() - started, cpu: (used.user + used.system) / 1000 };
}

function best(list: readonly Timing[], key: keyof Timing): number {
  return Math.min(...list.map((t) => t[key]));
}

async function readAndParse(dir: string): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(full);
      else {
        const text = await Deno.readTextFile(full);
        if (entry.name.endsWith(".yml")) parseYaml(text);
      }
    }
  };
  await walk(dir);
}

async function benchRun(
  name: string,
  dir: string,
  models: number,
  open: () => Promise<Warehouse>,
): Promise<void> {
  const project = await loadProject(dir);
  // Native: the compiled SQL as plain `create or replace view`, in order.
  const native = await withWarehouse(open, async (warehouse) => {
    const schemas = new Set([...project.models.values()].map((m) => m.relation.schema));
    for (const schema of schemas) await warehouse.ensureSchema(schema);
    return await time(async () => {
      for (const model of project.models.values()) {
        await warehouse.execute(
          `create or replace view ${model.relation} as (\n${model.compiledCode}\n)`,
        );
      }
    });
  });
  const ours = await withWarehouse(open, (warehouse) =>
    time(async () => {
      const run = await runProject(project, warehouse, {
        select: new Set([...project.nodes.keys()]),
        writeArtifacts: true,
      });
      if (!run.success) throw new Error(`bench run failed: ${JSON.stringify(run.results[0])}`);
    }));
  const withTests = await withWarehouse(
    open,
    (warehouse) => time(() => runProject(project, warehouse, { writeArtifacts: false })),
  );
  console.log(
    `${name}: ${models} view models: runner ${ms(ours)} ms (${ms(ours / models)} ms/model), ` +
      `native create view ${ms(native)} ms (${ms(native / models)} ms/model); ` +
      `overhead ${ms((ours - native) / models)} ms/model, ratio ${(ours / native).toFixed(2)}x`,
  );
  console.log(
    `  with ${project.tests.length} tests: ${ms(withTests)} ms (${
      ms(withTests / models)
    } ms/model incl. tests)`,
  );
}

async function withWarehouse<T>(
  open: () => Promise<Warehouse>,
  fn: (warehouse: Warehouse) => Promise<T>,
): Promise<T> {
  const warehouse = await open();
  try {
    await warehouse.exec(
      "drop schema if exists bench cascade; drop schema if exists bench_base cascade",
    );
    return await fn(warehouse);
  } finally {
    await warehouse.close();
  }
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function ms(value: number): string {
  return value.toFixed(value < 10 ? 2 : 0);
}

if (import.meta.main) {
  if (Deno.args[0] === "--load-once") {
    const dir = Deno.args[1] ?? "";
    console.log(JSON.stringify(await cpuTimed(() => loadProject(dir))));
  } else {
    await main();
  }
}
