/**
 * A unit test's given rows written as YAML floats with an integral value
 * (`amount: 10.0`, which dbt's PyYAML reads as a float and this runner keeps
 * as a boxed float since project/yaml_value.ts) reach the warehouse as the
 * number dbt writes (`10.0`): typed numeric when the input's relation is not
 * built yet, cast to the column's type when it is. As the quoted text
 * '10.0' they made a text column (`amount * 2` failed) or a cast no integer
 * column takes.
 */

import assert from "node:assert/strict";
import { buildModel, loadProject, runUnitTest } from "../../../../resources/dbt/mod.ts";
import { openWarehouse } from "../../../../resources/warehouse/mod.ts";
import { writeProject } from "../_fixture.ts";

const PROFILE = `demo:
  target: duck
  outputs:
    duck:
      type: duckdb
      path: ":memory:"
      threads: 1
`;

const UNIT = `unit_tests:
  - name: doubles
    model: m
    given:
      - input: ref('up')
        rows:
          - { id: 1, amount: 10.0 }
          - { id: 2, amount: 3.0 }
    expect:
      rows:
        - { id: 1, doubled: 20 }
        - { id: 2, doubled: 6 }
`;

Deno.test("unit test rows: integral YAML floats are numbers, whether or not the input's relation is built", async () => {
  await using project = await writeProject({
    "profiles.yml": PROFILE,
    "models/up.sql": "select 1 as id, cast(10 as integer) as amount",
    "models/m.sql": "select id, amount * 2 as doubled from {{ ref('up') }}",
    "models/unit.yml": UNIT,
  });
  const p = await loadProject(project.dir, { cache: false });
  await using warehouse = await openWarehouse("duckdb::memory:", { onNotice: () => {} });
  const test = p.unitTests.find((t) => t.name === "doubles");
  assert.ok(test, "the unit test was parsed");
  // `up` not built: the given columns' types are read from the values.
  const inferred = await runUnitTest(warehouse, test);
  assert.equal(inferred.status, "pass", inferred.message ?? undefined);
  // `up` built: the values are cast to its columns' types (amount: integer).
  await buildModel(warehouse, p, "up");
  const cast = await runUnitTest(warehouse, test);
  assert.equal(cast.status, "pass", cast.message ?? undefined);
});
