/**
 * A real project shape (tests/fixtures/dbt/jaffle_shop_classic) broken the
 * ways users break theirs: each fault is a typed {@linkcode DbtError} with a
 * stable code, naming the user's file and line, never a crash or a raw
 * library error. The untouched copy loads first, so every failure below is
 * the fault's.
 */

import assert from "node:assert/strict";
import { DbtError, DbtErrorCode, loadProject } from "../../../resources/dbt/mod.ts";

const CLASSIC = new URL("../../fixtures/dbt/jaffle_shop_classic/", import.meta.url).pathname;

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

/** A fault: files to rewrite (a function of their text) or add, and what the error must say. */
interface Fault {
  readonly name: string;
  readonly edit: Readonly<Record<string, (text: string) => string>>;
  readonly code: string;
  readonly file: string;
  readonly line?: number;
  readonly message: RegExp;
}

const replace = (from: string | RegExp, to: string) => (text: string) => {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`fixture changed: ${String(from)} not found`);
  return out;
};

const FAULTS: readonly Fault[] = [
  {
    name: "a YAML syntax error in a property file",
    edit: { "models/staging/schema.yml": replace(/tests: \[unique, not_null\]/, "tests: [unique") },
    code: DbtErrorCode.invalidYaml,
    file: "models/staging/schema.yml",
    message: /invalid YAML/,
  },
  {
    name: "a property file of the wrong shape",
    edit: {
      "models/schema.yml": replace("tests: [unique, not_null]", "tests: { unique: yes }"),
    },
    code: DbtErrorCode.invalidYaml,
    file: "models/schema.yml",
    line: 8,
    message: /tests/,
  },
  {
    name: "a ref to a model that does not exist",
    edit: { "models/orders.sql": replace("ref('stg_payments')", "ref('stg_payment')") },
    code: DbtErrorCode.unknownRef,
    file: "models/orders.sql",
    line: 7,
    message: /ref\('stg_payment'\).*did you mean 'stg_payments'/,
  },
  {
    name: "a cycle between staging and marts",
    edit: {
      "models/staging/stg_orders.sql": replace(
        "select * from renamed",
        "select * from renamed where customer_id in (select customer_id from {{ ref('customers') }})",
      ),
    },
    code: DbtErrorCode.invalidGraph,
    file: "models/customers.sql",
    line: 5, // its ref('stg_orders')
    message: /models form a cycle: customers -> stg_orders -> customers/,
  },
  {
    name: "a Jinja syntax error inside a for loop",
    edit: { "models/orders.sql": replace("{% endfor -%}", "{% endif -%}") },
    code: DbtErrorCode.jinjaSyntax,
    file: "models/orders.sql",
    message: /Jinja syntax error/,
  },
  {
    name: "a macro file whose block is never closed",
    edit: {
      "macros/cents.sql": () =>
        "{% macro cents_to_dollars(column) %}\n  ({{ column }} / 100)::numeric(16, 2)\n",
    },
    code: DbtErrorCode.jinjaSyntax,
    file: "macros/cents.sql",
    line: 1,
    message: /never closed/,
  },
  {
    name: "a relationships test to a model that does not exist",
    edit: { "models/schema.yml": replace("to: ref('customers')", "to: ref('customer')") },
    code: DbtErrorCode.unknownRef,
    file: "models/schema.yml",
    message: /customer/,
  },
  {
    name: "an unknown generic test",
    edit: { "models/schema.yml": replace("tests: [not_null]", "tests: [not_nul]") },
    code: DbtErrorCode.invalidYaml,
    file: "models/schema.yml",
    line: 26,
    message: /'not_nul' on 'orders': unknown generic test/,
  },
  {
    name: "dbt_project.yml that is not YAML",
    edit: { "dbt_project.yml": replace("    staging:\n", "    staging: [\n") },
    code: DbtErrorCode.invalidYaml,
    file: "dbt_project.yml",
    message: /invalid YAML/,
  },
  {
    name: "a var the project never defines",
    edit: { "models/customers.sql": (text) => `select {{ var('start_date') }} as x\n${text}` },
    code: DbtErrorCode.renderFailed,
    file: "models/customers.sql",
    line: 1,
    message: /var\('start_date'\)/,
  },
];

Deno.test("malformed variants of jaffle_shop fail with typed errors naming file and line", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "dbt-malformed-" });
  try {
    await copyTree(CLASSIC, `${root}/pristine`);
    const pristine = await loadProject(`${root}/pristine`, { cache: false });
    assert.equal(pristine.models.size, 5);
    let n = 0;
    for (const fault of FAULTS) {
      await t.step(fault.name, async () => {
        const dir = `${root}/case_${++n}`;
        await copyTree(CLASSIC, dir);
        for (const [file, edit] of Object.entries(fault.edit)) {
          const path = `${dir}/${file}`;
          const before = await Deno.readTextFile(path).catch(() => "");
          await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
          await Deno.writeTextFile(path, edit(before));
        }
        const error = await loadProject(dir, { cache: false }).then(
          () => assert.fail(`${fault.name}: the project loaded`),
          (error: unknown) => error,
        );
        assert.ok(error instanceof DbtError, `${fault.name}: ${String(error)}`);
        assert.equal(error.code, fault.code, error.message);
        assert.equal(error.file, fault.file, error.message);
        if (fault.line !== undefined) assert.equal(error.line, fault.line, error.message);
        else assert.ok(error.line !== undefined && error.line >= 1, `no line: ${error.message}`);
        assert.match(error.message, fault.message);
        // The message starts with where to look, as a compiler's does.
        assert.ok(error.message.startsWith(fault.file), error.message);
        assert.doesNotMatch(error.message, /\[object Object\]|undefined|\/tmp\//, error.message);
      });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
