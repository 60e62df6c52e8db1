/**
 * `deno task dbt retry` applies the flags dbt's retry applies: `--empty` and
 * `--warn-error-options` of the run it retries (they are in its
 * run_results.json `args`), and its own `--warn-error`, which also reruns the
 * tests that only warned. Before, a retry of a `build --empty` built the
 * fixed model with all its rows, a retry ignored the previous
 * `--warn-error-options`, and `retry --warn-error` found nothing to rerun
 * after a run whose tests only warned.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { readRetryPlan } from "../../../resources/dbt/retry.ts";
import { writeProject } from "./_fixture.ts";

async function withWarehouse(fn: (cli: (args: string[]) => Promise<Run>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "dbt-retry-" });
  try {
    const env = (name: string) =>
      name === "WAREHOUSE_URL" ? `pglite:${dir}/wh` : name === "HOME" ? dir : undefined;
    await fn(async (args) => {
      const out: string[] = [];
      const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
      const code = await runDbtCli(args, io, { env });
      return { code, out: out.join("\n") };
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Run {
  readonly code: number;
  readonly out: string;
}

async function compiledCode(projectDir: string, name: string): Promise<string> {
  const results = JSON.parse(await Deno.readTextFile(`${projectDir}/target/run_results.json`)) as {
    results: { unique_id: string; compiled_code?: string }[];
  };
  return results.results.find((r) => r.unique_id === `model.demo.${name}`)?.compiled_code ?? "";
}

Deno.test("dbt retry: a retried 'build --empty' builds the fixed model with no rows", async () => {
  await using project = await writeProject({
    "models/base.sql": "select 1 as id union all select 2",
    "models/child.sql": "select nope from {{ ref('base') }}",
  });
  await withWarehouse(async (cli) => {
    const dir = ["--project-dir", project.dir];
    const first = await cli(["build", ...dir, "--empty"]);
    assert.equal(first.code, 1, first.out);
    await Deno.writeTextFile(`${project.dir}/models/child.sql`, "select id from {{ ref('base') }}");
    const retried = await cli(["retry", ...dir]);
    assert.equal(retried.code, 0, retried.out);
    assert.match(await compiledCode(project.dir, "child"), /where false limit 0/); // had rows
  });
});

Deno.test("dbt retry: after a failed compile, compiles again what failed", async () => {
  // dbt's retry reruns the previous task, compile included; this exited 2 ("retry reruns
  // build, run, test, seed or snapshot").
  await using project = await writeProject({
    "models/base.sql": "select 1 as id",
    "models/child.sql": "select {{ colz.id }} as id from {{ ref('base') }}",
  });
  await withWarehouse(async (cli) => {
    const dir = ["--project-dir", project.dir];
    const first = await cli(["compile", ...dir]);
    assert.equal(first.code, 1, first.out);
    assert.match(first.out, /'colz' is undefined/);
    await Deno.writeTextFile(`${project.dir}/models/child.sql`, "select id from {{ ref('base') }}");
    const retried = await cli(["retry", ...dir]);
    assert.equal(retried.code, 0, retried.out);
    const results = JSON.parse(await Deno.readTextFile(`${project.dir}/target/run_results.json`));
    assert.deepEqual(
      results.results.map((r: { unique_id: string; status: string }) => [r.unique_id, r.status]),
      [["model.demo.child", "success"]],
    );
    assert.equal(results.args.which, "compile");
    assert.match(await compiledCode(project.dir, "child"), /from "postgres"\."analytics"\."base"/);
  });
});

Deno.test("dbt retry: --warn-error reruns what warned; the previous --warn-error-options apply again", async () => {
  await using project = await writeProject({
    "models/people.sql": "select 1 as id union all select 1",
    "models/schema.yml": [
      "version: 2",
      "models:",
      "  - name: people",
      "    columns:",
      "      - name: id",
      "        data_tests:",
      "          - unique:",
      "              config: {severity: warn}",
      "          - not_null",
    ].join("\n"),
  });
  await withWarehouse(async (cli) => {
    const dir = ["--project-dir", project.dir];
    const warned = await cli(["build", ...dir]);
    assert.equal(warned.code, 0, warned.out);
    const plain = await cli(["retry", ...dir]);
    assert.equal(plain.code, 0, plain.out);
    assert.match(plain.out, /Nothing to retry/);
    const strict = await cli(["retry", ...dir, "--warn-error"]);
    assert.equal(strict.code, 1, strict.out); // was 0: "Nothing to retry"
    assert.match(strict.out, /FAIL test\.[^:]+unique_people_id[^:]*: Got 1 result/);

    // A failure under --warn-error-options, retried: the options hold again (fails again).
    const promoted = await cli(["build", ...dir, "--warn-error-options", '{"include": "all"}']);
    assert.equal(promoted.code, 1, promoted.out);
    const again = await cli(["retry", ...dir]);
    assert.equal(again.code, 1, again.out); // was 0: the test only warned
    assert.match(again.out, /WARN=0 ERROR=1/);
  });
});

Deno.test("dbt retry: a run_results.json of another shape names what is wrong in it", async () => {
  // Before: the message quoted the first line of the ZodError's JSON: "... can read ([); ...".
  const dir = await Deno.makeTempDir({ prefix: "dbt-retry-" });
  try {
    for (
      const [text, reason] of [
        ["null", "the top level: Invalid input: expected object, received null"],
        ['{"results": 5}', "results: Invalid input: expected array, received number"],
        ["{", "Expected property name or '}' in JSON at position 1"],
      ] as const
    ) {
      await Deno.writeTextFile(`${dir}/run_results.json`, text);
      await assert.rejects(() => readRetryPlan(dir), (error: Error & { code?: string }) => {
        assert.equal(error.code, "dbt.invalid_state");
        assert.ok(
          error.message.includes(`this runner can read (${reason}`),
          `${text}: ${error.message}`,
        );
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
