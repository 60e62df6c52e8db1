/**
 * selectors.yml as dbt reads it (#18 item 14, `--selector`): `union` and
 * `intersection` lists, `exclude` inside a list or on a method entry (always
 * a set difference, applied last), graph keywords with depths, the
 * key-value shorthand, `method: selector` inheritance, the `default: true`
 * selector, and refusals by name of what would otherwise select the wrong
 * nodes (an unknown key, a non-eager indirect selection, a Jinja default).
 */

import assert from "node:assert/strict";
import { DbtError, DbtErrorCode, loadProject } from "../../../resources/dbt/mod.ts";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { selectNodes } from "../../../resources/dbt/select.ts";
import { writeProject } from "./_fixture.ts";

// a -> b -> c -> d, e apart; tags: b and c are nightly, c and e finance.
const MODELS = {
  "models/a.sql": "select 1 as id",
  "models/b.sql": "{{ config(tags=['nightly']) }}select * from {{ ref('a') }}",
  "models/c.sql": "{{ config(tags=['nightly', 'finance']) }}select * from {{ ref('b') }}",
  "models/d.sql": "select * from {{ ref('c') }}",
  "models/e.sql": "{{ config(tags=['finance']) }}select 2 as id",
};

const SELECTORS = `selectors:
  - name: both
    definition:
      intersection:
        - tag: nightly
        - method: tag
          value: finance
  - name: nightly_not_finance
    definition:
      union:
        - 'tag:nightly'
        - exclude:
            - tag: finance
  - name: up_one
    definition:
      method: fqn
      value: c
      parents: true
      parents_depth: 1
      exclude: ['tag:finance']
  - name: down_all
    definition: {method: fqn, value: b, children: true}
  - name: inherits
    definition:
      intersection:
        - method: selector
          value: down_all
        - exclude: [d]
  - name: bad_key
    definition: {method: tag, value: nightly, parent: true}
  - name: cautious
    definition: {method: tag, value: nightly, indirect_selection: cautious}
  - name: loop
    definition: {method: selector, value: loop}
`;

function models(ids: Iterable<string>): string[] {
  return [...ids].filter((id) => id.startsWith("model.")).map((id) => id.slice(11)).sort();
}

Deno.test("selectors.yml: intersection, exclude, depths, shorthand and inheritance", async () => {
  await using project = await writeProject({ ...MODELS, "selectors.yml": SELECTORS });
  const p = await loadProject(project.dir, { cache: false, env: () => undefined });
  const pick = (name: string) => models(selectNodes(p, [], [], {}, name));
  assert.deepEqual(pick("both"), ["c"]);
  assert.deepEqual(pick("nightly_not_finance"), ["b"]);
  assert.deepEqual(pick("up_one"), ["b"]);
  assert.deepEqual(pick("down_all"), ["b", "c", "d"]);
  assert.deepEqual(pick("inherits"), ["b", "c"]);
  // --select and --selector together: their union.
  assert.deepEqual(models(selectNodes(p, ["e"], [], {}, "both")), ["c", "e"]);
  for (
    const [name, pattern] of [
      ["bad_key", /selector 'bad_key': unsupported key\(s\) parent/],
      ["cautious", /indirect_selection: cautious is not supported/],
      ["loop", /refers to itself \(loop -> loop\)/],
      ["nope", /selector 'nope' is not in selectors\.yml \(known: both, /],
    ] as const
  ) {
    assert.throws(() => selectNodes(p, [], [], {}, name), (error) => {
      assert.ok(error instanceof DbtError, String(error));
      assert.equal(error.code, DbtErrorCode.invalidProject);
      assert.match(error.message, pattern);
      return true;
    });
  }
});

async function ls(dir: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDbtCli(
    ["ls", "--project-dir", dir, "--resource-type", "model", "--output", "name", ...args],
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    { env: () => undefined },
  );
  return { code, names: out.sort(), err: err.join("\n") };
}

Deno.test("selectors.yml: the default selector applies only when the command selects nothing", async () => {
  const selectors = (second: string) =>
    `selectors:\n  - name: fin\n    default: true\n    definition: 'tag:finance'\n${second}`;
  await using project = await writeProject({
    ...MODELS,
    "selectors.yml": selectors("  - name: other\n    definition: a\n"),
  });
  assert.deepEqual((await ls(project.dir)).names, ["c", "e"]);
  assert.deepEqual((await ls(project.dir, "-s", "a")).names, ["a"]);
  assert.deepEqual((await ls(project.dir, "--exclude", "a")).names, ["b", "c", "d", "e"]);
  assert.deepEqual((await ls(project.dir, "--selector", "other")).names, ["a"]);
  const failed = await ls(project.dir, "--selector", "both");
  assert.equal(failed.code, 2);
  assert.match(failed.err, /selector 'both' is not in selectors\.yml \(known: fin, other\)/);

  await Deno.writeTextFile(
    `${project.dir}/selectors.yml`,
    selectors("  - name: other\n    default: true\n    definition: a\n"),
  );
  const two = await ls(project.dir);
  assert.equal(two.code, 2);
  assert.match(two.err, /selectors fin, other all set default: true; only one may/);

  await Deno.writeTextFile(
    `${project.dir}/selectors.yml`,
    selectors("  - name: other\n    default: \"{{ target.name == 'prod' }}\"\n    definition: a\n"),
  );
  const jinja = await ls(project.dir);
  assert.equal(jinja.code, 2);
  assert.match(jinja.err, /selector 'other': default: .* is not supported \(write true or false/);
});

Deno.test("bare selection values as dbt reads them: folder, package, path, file name, wildcard", async () => {
  await using project = await writeProject({
    "models/staging/stg_a.sql": "select 1 as id",
    "models/marts/orders.sql": "select * from {{ ref('stg_a') }}",
    "models/marts/schema.yml":
      "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
    "packages.yml": "packages:\n  - local: pk\n",
    "pk/dbt_project.yml": "name: pk\nversion: '1.0'\nconfig-version: 2\n",
    "pk/models/pk_numbers.sql": "select 1 as id",
    "pk/models/props.yml":
      "version: 2\nmodels:\n  - name: pk_numbers\n    columns:\n      - name: id\n        data_tests: [unique]\n",
  });
  const warnings: string[] = [];
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const code = await runDbtCli([...args, "--project-dir", project.dir], {
      out: (l) => out.push(l),
      err: (l) => (l.startsWith("warning: ") ? warnings : out).push(l),
    }, { env: () => undefined });
    return { code, out: out.sort() };
  };
  assert.equal((await cli("deps")).code, 0);
  const ls = async (select: string) =>
    (await cli("ls", "-s", select, "--resource-type", "model")).out;
  // A folder and a package are fqn prefixes, with or without the package in front.
  assert.deepEqual(await ls("staging"), ["demo.staging.stg_a"]);
  assert.deepEqual(await ls("demo.marts"), ["demo.marts.orders"]);
  assert.deepEqual(await ls("stag"), []);
  assert.match(warnings.join("\n"), /criterion 'stag' does not match any enabled nodes/);
  // dbt ls prints a package's nodes (and tests) under the package's name.
  assert.deepEqual((await cli("ls", "-s", "pk")).out, ["pk.pk_numbers", "pk.unique_pk_numbers_id"]);
  assert.deepEqual(await ls("models/staging"), ["demo.staging.stg_a"]);
  assert.deepEqual(await ls("orders.sql"), ["demo.marts.orders"]);
  assert.deepEqual(await ls("file:stg_a"), ["demo.staging.stg_a"]);
  assert.deepEqual(await ls("stg_*"), ["demo.staging.stg_a"]);
  assert.deepEqual(await ls("*.marts.ord?rs"), ["demo.marts.orders"]);
  // The manifest names the package of a package's test, as dbt does.
  assert.equal((await cli("parse")).code, 0);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  const test = Object.values(manifest.nodes as Record<string, { name: string; fqn: string[] }>)
    .find((n) => n.name === "unique_pk_numbers_id");
  assert.deepEqual(test?.fqn, ["pk", "unique_pk_numbers_id"]);
});

Deno.test("selection: versioned models, version:, exposure:, group: and access: as dbt selects them", async () => {
  await using project = await writeProject({
    "models/dim_v1.sql": "select 1 as id",
    "models/dim_v2.sql": "select 1 as id",
    "models/dim_v3.sql": "select 1 as id",
    "models/plain.sql": "{{ config(group='finance', access='public') }}select 1 as id",
    "models/reads.sql": "select * from {{ ref('dim') }}",
    "models/props.yml": `version: 2
groups:
  - name: finance
    owner: {name: Finance}
models:
  - name: dim
    latest_version: 2
    versions: [{v: 1}, {v: 2}, {v: 3}]
exposures:
  - name: board
    type: dashboard
    owner: {name: Ops}
    depends_on: [ref('plain')]
`,
  });
  const loaded = await loadProject(project.dir, { cache: false, env: () => undefined });
  const pick = (...select: string[]) =>
    [...selectNodes(loaded, select)]
      // dbt ids of versions (model.demo.dim.v2) read as their node names (dim_v2).
      .map((id) => id.replace("model.demo.", "").replace(/\.v(\d+)$/, "_v$1")).sort();
  // A bare name selects every version; name.vN one of them.
  assert.deepEqual(pick("dim"), ["dim_v1", "dim_v2", "dim_v3"]);
  assert.deepEqual(pick("dim.v2"), ["dim_v2"]);
  assert.deepEqual(pick("dim+"), ["dim_v1", "dim_v2", "dim_v3", "reads"]);
  assert.deepEqual(pick("version:latest"), ["dim_v2"]);
  assert.deepEqual(pick("version:prerelease"), ["dim_v3"]);
  assert.deepEqual(pick("version:old"), ["dim_v1"]);
  assert.deepEqual(pick("version:none"), ["plain", "reads"]);
  // An exposure is selected with its parents; it is not itself a node to build.
  assert.deepEqual(pick("+exposure:board"), ["plain"]);
  assert.deepEqual(pick("group:finance"), ["plain"]);
  assert.deepEqual(pick("access:public"), ["plain"]);
  assert.deepEqual(pick("access:protected"), ["dim_v1", "dim_v2", "dim_v3", "reads"]);
  assert.throws(
    () => pick("version:newest"),
    (e) =>
      e instanceof DbtError && e.code === DbtErrorCode.invalidProject &&
      /latest, prerelease/.test(e.message),
  );
});

Deno.test("selection: test_name:, nested config.meta.<key>:, source tags and disabled source tables as dbt selects them", async () => {
  // The shape of a Stripe-fed project: tags on the source and its tables, meta owners from
  // dbt_project.yml, a table switched off in its config, dbt_expectations-style generic tests.
  await using project = await writeProject({
    "dbt_project.yml": `name: demo
version: "1.0"
config-version: 2
profile: demo
models:
  demo:
    marts:
      +meta:
        owner: finance
        sla: {hours: 4}
`,
    "models/staging/_stripe__sources.yml": `version: 2
sources:
  - name: stripe
    tags: [payments]
    tables:
      - name: charges
        tags: [pii]
      - name: refunds
        config:
          tags: [finance_feed]
      - name: legacy_invoices
        config:
          enabled: false
`,
    "models/staging/stg_charges.sql": "select * from {{ source('stripe', 'charges') }}",
    "models/staging/stg_refunds.sql": "select * from {{ source('stripe', 'refunds') }}",
    "models/marts/revenue.sql": "select * from {{ ref('stg_charges') }}",
    "models/marts/_marts.yml": `version: 2
models:
  - name: revenue
    columns:
      - name: id
        data_tests:
          - unique
          - not_null
          - expect_positive
`,
    "tests/generic/expect_positive.sql":
      "{% test expect_positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}",
    "tests/no_future_revenue.sql": "select * from {{ ref('revenue') }} where 1 = 0",
    "models/marts/_exposures.yml": `version: 2
exposures:
  - name: revenue_dashboard
    label: Revenue Dashboard
    type: dashboard
    owner: {name: Finance}
    tags: [bi]
    meta: {tier: 1}
    config:
      tags: [exec]
    depends_on: ["ref('revenue')"]
  - name: retired_report
    type: dashboard
    owner: {name: Finance}
    config: {enabled: false}
    depends_on: ["ref('revenue')"]
`,
  });
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const code = await runDbtCli([...args, "--project-dir", project.dir], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    }, { env: () => undefined });
    return { code, out: out.filter((l) => !l.startsWith("warning: ")).sort() };
  };
  const ls = async (select: string) => (await cli("ls", "-s", select)).out;
  const models = async (select: string) =>
    (await cli("ls", "-s", select, "--resource-type", "model")).out;
  // Before: test_name matched the test node's name, so `test_name:unique` found nothing.
  assert.deepEqual(await ls("test_name:unique"), ["demo.unique_revenue_id"]);
  assert.deepEqual(await ls("test_name:expect_*"), ["demo.expect_positive_revenue_id"]);
  assert.deepEqual(await ls("test_type:schema,test_name:not_null"), ["demo.not_null_revenue_id"]);
  // Before: only a top-level config key was read, so nothing matched.
  assert.deepEqual(await models("config.meta.owner:finance"), [
    "demo.marts.revenue",
  ]);
  assert.deepEqual(await models("config.meta.sla.hours:4"), ["demo.marts.revenue"]);
  assert.deepEqual(await ls("config.meta:finance"), []);
  // Before: source tags were dropped, so `tag:pii+` built nothing downstream of the source.
  assert.deepEqual(await models("tag:pii+"), [
    "demo.marts.revenue",
    "demo.staging.stg_charges",
  ]);
  assert.deepEqual(await ls("tag:payments"), [
    "source:demo.stripe.charges",
    "source:demo.stripe.refunds",
  ]);
  assert.deepEqual(await models("tag:finance_feed+"), ["demo.staging.stg_refunds"]);
  // A disabled source table is not a node (before: listed, and freshness checked it).
  assert.deepEqual(await ls("source:stripe"), [
    "source:demo.stripe.charges",
    "source:demo.stripe.refunds",
  ]);
  assert.equal((await cli("parse")).code, 0);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  assert.deepEqual(manifest.sources["source.demo.stripe.charges"].tags, ["payments", "pii"]);
  // Exposures keep their tags, meta and label (before: dropped, so tag:bi found nothing), and
  // a disabled one is no node.
  assert.deepEqual(await ls("+tag:exec,resource_type:exposure"), [
    "exposure:demo.revenue_dashboard",
  ]);
  assert.deepEqual(await ls("tag:bi"), ["exposure:demo.revenue_dashboard"]);
  assert.deepEqual(await ls("exposure:*"), ["exposure:demo.revenue_dashboard"]);
  const exposure = manifest.exposures["exposure.demo.revenue_dashboard"];
  assert.deepEqual(
    [exposure.label, exposure.tags, exposure.meta],
    ["Revenue Dashboard", ["bi", "exec"], { tier: 1 }],
  );
  assert.equal(manifest.sources["source.demo.stripe.legacy_invoices"], undefined);
});
