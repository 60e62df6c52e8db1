/**
 * The differential test of the dbt Jinja engine against Jinja2 (tools/jinja_fuzz):
 * a fixed set of seeded templates renders the same on both sides (or fails on
 * both). JINJA_FUZZ_CASES raises the count for a long local run.
 */

import assert from "node:assert/strict";
import { isCi } from "../../_helpers/tools.ts";
import { differential, findPython } from "../../../tools/jinja_fuzz/run.ts";
import { generate, Rng } from "../../../tools/jinja_fuzz/grammar.ts";

const python = await findPython();
const INSTALL = "sudo apt-get install -y python3-jinja2 (or pip install jinja2)";
if (!python && !isCi()) {
  console.log(
    `SKIP tests/tools/jinja_fuzz/run_test.ts: python3 with jinja2 missing; install: ${INSTALL}`,
  );
}

Deno.test("the same seed generates the same templates", () => {
  const a = new Rng(5);
  const b = new Rng(5);
  assert.equal(generate(a), generate(b));
  assert.notEqual(generate(new Rng(5)), generate(new Rng(6)));
});

Deno.test(
  "seeded Jinja templates render as Jinja2 renders them",
  { ignore: !python && !isCi() },
  async () => {
    if (!python) throw new Error(`CI=true and python3 with jinja2 missing; install: ${INSTALL}`);
    const cases = Number(Deno.env.get("JINJA_FUZZ_CASES") ?? "300");
    const report = await differential(python, cases, 1);
    const shown = report.divergences.slice(0, 5).map((d) =>
      `${d.template}\n  ours:   ${JSON.stringify(d.ours)}\n  jinja2: ${JSON.stringify(d.jinja2)}`
    );
    assert.equal(report.divergences.length, 0, shown.join("\n"));
    assert.ok(report.rendered > cases / 2, `only ${report.rendered} of ${cases} rendered`);
  },
);
