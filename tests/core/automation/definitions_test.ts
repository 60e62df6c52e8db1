/** Building conditions and freshness policies: validation, descriptions, judging freshness. */

import assert from "node:assert/strict";
import {
  and,
  anyDepsMissing,
  conditionFromConfig,
  eager,
  inLatestTimeWindow,
  not,
  onCron,
  onMissing,
  or,
} from "../../../core/automation/condition.ts";
import { freshness, judgeFreshness } from "../../../core/automation/freshness_policy.ts";
import { defineAsset } from "../../../core/asset.ts";
import { InvalidDefinitionError } from "../../../core/errors.ts";
import { dbtAssets } from "../../../assets/dbt/mod.ts";
import { writeProject } from "../../resources/dbt/_fixture.ts";

const T = Date.parse("2024-05-10T12:00:00Z");
const MIN = 60_000;

Deno.test("conditions: descriptions, labels, without(), bad input", () => {
  assert.equal(eager().describe(), "eager");
  assert.equal(onCron("0 6 * * *").name, "on_cron(0 6 * * *)");
  assert.equal(
    or(eager(), onCron("0 0 * * 1")).and(not(inLatestTimeWindow())).describe(),
    "(eager or on_cron(0 0 * * 1)) and not in_latest_time_window",
  );
  const tree = eager().toDescription();
  assert.equal(tree.label, "eager");
  assert.deepEqual(tree.children.map((c) => c.kind), [
    "in_latest_time_window",
    "since",
    "not",
    "not",
    "not",
  ]);
  const allowMissing = eager().without(not(anyDepsMissing()));
  assert.equal(allowMissing.toDescription().children.length, 4);
  assert.equal(allowMissing.name, "eager");
  assert.throws(() => eager().without(onMissing()), /not one of its parts/);
  assert.throws(() => and(), /no conditions/);
  assert.throws(() => and("eager" as never), /not an automation condition/);
  // A condition factory passed uncalled printed its whole source; an object, [object Object].
  assert.throws(
    () => and(eager as never),
    { message: "Cannot build 'and': [Function: eager] is not an automation condition" },
  );
  assert.throws(
    () => or({ kind: "eager" } as never),
    { message: `Cannot build 'or': { kind: "eager" } is not an automation condition` },
  );
  assert.throws(() => onCron("0 6 * *"), InvalidDefinitionError);
  assert.throws(() => onCron("99 6 * * *"), InvalidDefinitionError);
  assert.throws(() => inLatestTimeWindow({ lookbackDays: -1 }), RangeError);
  assert.throws(() => eager().withLabel(" "), TypeError);
  assert.throws(
    () => defineAsset({ key: "x", automation: "eager" as never, materialize: () => {} }),
    /automation must be an automation condition/,
  );
});

Deno.test("conditions from dbt config: eager, on_missing, on_cron", () => {
  assert.equal(conditionFromConfig("eager", "model x")?.name, "eager");
  assert.equal(conditionFromConfig("on_missing", "model x")?.name, "on_missing");
  assert.equal(conditionFromConfig("on_cron:0 6 * * *", "model x")?.name, "on_cron(0 6 * * *)");
  assert.equal(
    conditionFromConfig({ on_cron: "0 7 * * *" }, "model x")?.name,
    "on_cron(0 7 * * *)",
  );
  assert.equal(conditionFromConfig(undefined, "model x"), undefined);
  assert.throws(
    () => conditionFromConfig("sometimes", "model x"),
    /model x: automation '"sometimes"'/,
  );
  assert.equal(conditionFromConfig(" eager ", "model x")?.name, "eager", "YAML spacing");
});

Deno.test("malformed automation config: every shape a YAML typo makes is refused, naming where", () => {
  for (
    const [value, pattern] of [
      ["Eager", /not one of eager, on_missing/],
      ["on_cron:", /model m \(meta.automation\): Cannot use cron ''/],
      ["on_cron: 0 6 * *", /model m \(meta.automation\): Cannot use cron '0 6 \* \*'/],
      ["on_cron:61 * * * *", /model m \(meta.automation\): Cannot use cron '61/],
      [{ on_cron: 6 }, /not one of/],
      [{ on_cron: "0 6 * * *", eager: true }, /not one of/],
      [{}, /not one of/],
      [["eager"], /not one of/],
      [true, /automation 'true'/],
      [42, /automation '42'/],
    ] as const
  ) {
    assert.throws(
      () => conditionFromConfig(value, "model m (meta.automation)"),
      (error: unknown) => {
        assert.ok(error instanceof InvalidDefinitionError, String(error));
        assert.match(error.message, /model m \(meta.automation\)/);
        assert.match(error.message, pattern);
        return true;
      },
      JSON.stringify(value),
    );
  }
});

Deno.test("malformed automation config in a dbt project: loading fails naming the model", async () => {
  await using project = await writeProject({
    "models/ok.sql": "select 1 as id",
    "models/bad.sql": "select * from {{ ref('ok') }}",
    "models/schema.yml": `version: 2
models:
  - name: bad
    config:
      meta: {automation: "on_cron:0 25 * * *"}
`,
  });
  await assert.rejects(
    () => dbtAssets(project.dir, { writeArtifacts: false }),
    (error: unknown) => {
      assert.ok(error instanceof InvalidDefinitionError, String(error));
      assert.match(error.message, /dbt model 'bad' \(meta.automation\): Cannot use cron '0 25/);
      return true;
    },
  );
  await Deno.writeTextFile(
    `${project.dir}/models/schema.yml`,
    "version: 2\nmodels:\n  - name: bad\n    config:\n      meta: {automation: eager}\n",
  );
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false });
  assert.equal(dbt.assets.find((a) => a.key === "bad")?.automation?.name, "eager");
});

Deno.test("freshness: pass, warn, error, never; cron-judged at the latest tick", () => {
  const policy = freshness({ maxLagMinutes: 7 * 60, warnLagMinutes: 6 * 60 });
  assert.equal(judgeFreshness(policy, T - 60 * MIN, T).status, "pass");
  assert.equal(judgeFreshness(policy, T - 390 * MIN, T).status, "warn");
  const late = judgeFreshness(policy, T - 481 * MIN, T);
  assert.equal(late.status, "error");
  assert.equal(late.description, "data 8 h 1 min old; allowed 7 h");
  assert.equal(judgeFreshness(policy, null, T).description, "never materialized; allowed 7 h");
  const warnOnly = freshness({ maxLagMinutes: 10, severity: "warn" });
  assert.equal(judgeFreshness(warnOnly, T - 11 * MIN, T).status, "warn");

  const daily = freshness({ maxLagMinutes: 60, cron: "0 7 * * *" });
  // Judged at today's 07:00 tick: data from 06:30 is on time, from 05:00 late.
  assert.equal(judgeFreshness(daily, Date.parse("2024-05-10T06:30:00Z"), T).status, "pass");
  const judged = judgeFreshness(daily, Date.parse("2024-05-10T05:00:00Z"), T);
  assert.equal(judged.status, "error");
  assert.equal(judged.judgedAt, Date.parse("2024-05-10T07:00:00Z"));
  assert.match(judged.description, /at the 2024-05-10T07:00:00.000Z tick/);
  assert.equal(judgeFreshness(daily, Date.parse("2024-05-10T08:00:00Z"), T).status, "pass");

  assert.throws(() => freshness({ maxLagMinutes: 0 }), RangeError);
  assert.throws(() => freshness({ maxLagMinutes: 10, warnLagMinutes: 10 }), RangeError);
  assert.throws(() => freshness({ maxLagMinutes: 10, cron: "nope" }), InvalidDefinitionError);
  assert.throws(() => freshness({ maxLagMinutes: 10, severity: "fatal" as never }), RangeError);
});
