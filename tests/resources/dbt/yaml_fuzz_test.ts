/**
 * Seeded fuzz of a dbt project's YAML: one value of schema.yml,
 * dbt_project.yml, profiles.yml, packages.yml or selectors.yml replaced by a
 * value of another type (a number, a list, a mapping, null, text, Jinja...)
 * at every key the file has, then `deno task dbt` (in process) run on it.
 * Each case either succeeds or exits 2 with a message naming the file and
 * the key (or its line); never exit 1, a stack, a library's TypeError or
 * `[object Object]`.
 *
 * `DBT_YAML_FUZZ_CASES` (default 120) and `DBT_YAML_FUZZ_SEED` (default 7).
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { Random } from "../../_helpers/reliability.ts";
import { copyTree } from "./_project_cli.ts";

const CASES = Number(Deno.env.get("DBT_YAML_FUZZ_CASES") ?? 120);
const SEED = Number(Deno.env.get("DBT_YAML_FUZZ_SEED") ?? 7);

const CLASSIC = new URL("../../fixtures/dbt/jaffle_shop_classic/", import.meta.url).pathname;

/** The files fuzzed, and the command that reads each. */
const FILES: Readonly<Record<string, readonly string[]>> = {
  "models/schema.yml": ["parse"],
  "models/staging/schema.yml": ["parse"],
  "dbt_project.yml": ["parse"],
  "profiles.yml": ["parse"],
  "packages.yml": ["deps"],
  "selectors.yml": ["ls", "--selector", "nightly"],
};

const EXTRA: Readonly<Record<string, string>> = {
  "packages.yml": "packages:\n  - local: ../pkg\n",
  "selectors.yml": "selectors:\n  - name: nightly\n    description: the staging models\n" +
    "    definition:\n      union:\n        - method: path\n          value: models/staging\n" +
    "        - method: tag\n          value: nightly\n",
  "../pkg/dbt_project.yml": "name: pkg\nversion: '1.0'\nconfig-version: 2\n",
};

/** Values of every YAML type a key is given by mistake. */
const VALUES: readonly unknown[] = [
  3,
  -1,
  1.5,
  1e300,
  true,
  null,
  "text",
  "",
  [],
  [1, { a: 2 }],
  {},
  { x: [1] },
  "{{ 1 + }}",
  "x".repeat(3000),
  [[[]]],
];

/** Every path into a parsed YAML value, with the last mapping key on it. */
function paths(node: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      out.push([...prefix, key], ...paths(pair.value, [...prefix, key]));
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => out.push([...prefix, i], ...paths(item, [...prefix, i])));
  }
  return out;
}

async function cli(args: readonly string[], dir: string) {
  const err: string[] = [];
  const code = await runDbtCli(
    [...args, "--project-dir", dir, "--profiles-dir", dir],
    { out: () => {}, err: (line) => err.push(line) },
    { env: () => undefined },
  );
  return { code, err: err.join("\n") };
}

/** jaffle_shop_classic with a packages.yml (a local package) and a selectors.yml, in `root`. */
async function pristineProject(root: string): Promise<string> {
  const pristine = `${root}/pristine`;
  await copyTree(CLASSIC, pristine);
  for (const [file, text] of Object.entries(EXTRA)) {
    await Deno.mkdir(dirname(`${pristine}/${file}`), { recursive: true });
    await Deno.writeTextFile(`${pristine}/${file}`, text);
  }
  return pristine;
}

Deno.test("dbt YAML: a selector method that is not text, a project path that is not a folder, a folder config of the wrong type: exit 2 naming the file and key", async () => {
  // Found by the fuzz below (seed 7). Before: a method given as a mapping was
  // 'unknown selection method [object Object]:' blamed on --select; model-paths naming a file
  // (or a name too long) escaped as an uncaught error; '+materialized: []' was read as '' and
  // blamed on every model.
  const root = await Deno.makeTempDir({ prefix: "dbt-yaml-fuzz-" });
  try {
    const dir = await pristineProject(root);
    const cases: [file: string, from: string, to: string, args: string[], says: RegExp][] = [
      [
        "selectors.yml",
        "- method: path",
        "- method: {a: 1}",
        ["ls", "--selector", "nightly"],
        /^error: selectors\.yml: selector 'nightly': 'method' must be a method name .*got \{"a":1\}$/,
      ],
      [
        "selectors.yml",
        "- method: path",
        "- method: paht",
        ["ls", "--selector", "nightly"],
        /^error: selectors\.yml: selector 'nightly': unknown selection method 'paht:'/,
      ],
      [
        "dbt_project.yml",
        'model-paths: ["models"]',
        'model-paths: ["dbt_project.yml"]',
        ["parse"],
        /^error: dbt_project\.yml: cannot read the folder 'dbt_project\.yml' \(Not a directory\): each of model-paths/,
      ],
      [
        "dbt_project.yml",
        "    materialized: table",
        "    materialized: []",
        ["parse"],
        /^error: dbt_project\.yml:13: models\.jaffle_shop\.materialized: must be a materialization name .*got \[\]$/,
      ],
      [
        "dbt_project.yml",
        "      materialized: view",
        "      +enabled: 3",
        ["parse"],
        /^error: dbt_project\.yml:15: models\.jaffle_shop\.staging\.\+enabled: must be true or false, got 3$/,
      ],
    ];
    for (const [file, from, to, args, says] of cases) {
      const text = await Deno.readTextFile(`${dir}/${file}`);
      assert.ok(text.includes(from), `${file} has no '${from}'`);
      await Deno.writeTextFile(`${dir}/${file}`, text.replace(from, to));
      const { code, err } = await cli(args, dir);
      await Deno.writeTextFile(`${dir}/${file}`, text);
      assert.equal(code, 2, `${to}: ${err}`);
      assert.match(err, says);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test(`dbt YAML fuzz: ${CASES} wrong-typed values (seed ${SEED}) exit 0, or 2 naming the file and key`, async () => {
  const root = await Deno.makeTempDir({ prefix: "dbt-yaml-fuzz-" });
  try {
    const pristine = await pristineProject(root);
    for (const [file, args] of Object.entries(FILES)) {
      const ok = await cli(args, pristine);
      assert.equal(ok.code, 0, `the pristine project fails ${args[0]} (${file}): ${ok.err}`);
    }
    const texts = Object.fromEntries(
      await Promise.all(
        Object.keys(FILES).map(async (f) => [f, await Deno.readTextFile(`${pristine}/${f}`)]),
      ),
    );
    const rng = new Random(SEED);
    const failures: string[] = [];
    const dir = `${root}/case`;
    await copyTree(pristine, dir);
    for (let i = 0; i < CASES; i++) {
      const file = rng.pick(Object.keys(FILES));
      const doc = parseDocument(texts[file]!);
      const all = paths(doc.contents);
      const path = rng.pick(all);
      const value = rng.pick(VALUES);
      doc.setIn(path, doc.createNode(value));
      const text = doc.toString({ lineWidth: 0 });
      await Deno.writeTextFile(`${dir}/${file}`, text);
      const where = `case ${i} (seed ${SEED}): ${file} ${path.join(".")} = ${
        JSON.stringify(value)?.slice(0, 40)
      }`;
      try {
        const { code, err } = await cli(FILES[file]!, dir);
        const key = [...path].reverse().find((p) => typeof p === "string") as string;
        if (code !== 0 && code !== 2) failures.push(`${where}: exit ${code}: ${err.slice(0, 400)}`);
        if (
          /\[object Object\]|\n\s+at |TypeError|Cannot read properties|is not a function/.test(err)
        ) {
          failures.push(`${where}: ${err.slice(0, 400)}`);
        }
        if (code === 2) {
          // A consequence named where it shows (seed-paths: [] leaves a ref to a seed
          // dangling; an unknown materialization names each model) or by the value given.
          const given = typeof value === "string" && value.length > 0 ? value.slice(0, 20) : "\0";
          if (
            !err.includes(file.split("/").pop()!) &&
            !(file === "dbt_project.yml" && /error: models\//.test(err)) && !err.includes(given)
          ) {
            failures.push(`${where}: does not name ${file}: ${err.slice(0, 400)}`);
          } else if (!err.includes(key) && !/:\d+/.test(err) && !/selector '/.test(err)) {
            failures.push(`${where}: names neither '${key}' nor a line: ${err.slice(0, 400)}`);
          }
        }
      } catch (error) {
        failures.push(`${where}: threw ${String(error).slice(0, 400)}`);
      } finally {
        await Deno.writeTextFile(`${dir}/${file}`, texts[file]!);
        await Deno.remove(`${dir}/target`, { recursive: true }).catch(() => {});
        await Deno.remove(`${dir}/dbt_packages`, { recursive: true }).catch(() => {});
      }
    }
    assert.deepEqual(failures.slice(0, 30), [], `${failures.length} of ${CASES} cases failed`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
