import assert from "node:assert/strict";
import { join } from "node:path";
import {
  barrelProblems,
  checkImports,
  circleProblems,
  circles,
  importsOf,
  KNOWN_CIRCLES,
  stripComments,
} from "../../tools/check_imports.ts";

/** Writes `files` (path → text) under a new temp dir; returns the dir. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "check_imports_" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  }
  return root;
}

async function problemsOf(files: Record<string, string>): Promise<string[]> {
  const root = await tree(files);
  try {
    return (await checkImports(root)).map((p) => `${p.rule}: ${p.message}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** A circle in each folder KNOWN_CIRCLES tolerates, which must exist while listed. */
const BASE: Record<string, string> = Object.fromEntries(
  KNOWN_CIRCLES.flatMap(({ folder }) => [
    [`${folder}known_a.ts`, 'import { b } from "./known_b.ts";\nexport const a = () => b;\n'],
    [`${folder}known_b.ts`, 'import { a } from "./known_a.ts";\nexport const b = () => a;\n'],
  ]),
);

Deno.test("importsOf reads every import shape and ignores comments and strings", () => {
  const source = [
    "/**",
    ' * import { nope } from "./doc_example.ts";',
    " */",
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    "import {",
    "  c,",
    "  type D,",
    '} from "./cd.ts";',
    'export * from "./star.ts";',
    'export { e } from "./e.ts";',
    'import "./side_effect.ts";',
    'const lazy = await import("./lazy.ts");',
    '// import { commented } from "./commented.ts";',
    'import { z } from "zod";',
    'const url = "http://example.com/import";',
  ].join("\n");
  const edges = importsOf("core/x/file.ts", source);
  assert.deepEqual(edges.map((e) => [e.to, e.line, e.kind]), [
    ["core/x/a.ts", 4, "import"],
    ["core/b.ts", 5, "import"],
    ["core/x/cd.ts", 6, "import"],
    ["core/x/star.ts", 10, "export"],
    ["core/x/e.ts", 11, "export"],
    ["core/x/side_effect.ts", 12, "import"],
    ["core/x/lazy.ts", 13, "dynamic"],
  ]);
});

Deno.test("stripComments keeps line numbers and strings", () => {
  const code = 'a /* x\ny */ b // z\n"// not a comment"';
  const stripped = stripComments(code);
  assert.equal(stripped.split("\n").length, 3);
  assert.match(stripped, /"\/\/ not a comment"/);
  assert.doesNotMatch(stripped, /[xyz]/);
});

Deno.test("barrel imports inside the code are refused, with file and line", async (t) => {
  const cases: [name: string, from: string, text: string, flagged: boolean][] = [
    ["core file importing core/mod.ts", "core/executor.ts", 'import { x } from "./mod.ts";', true],
    [
      "asset importing a resource folder's mod.ts",
      "assets/w/raw.ts",
      'import type { Ledger } from "../../resources/ledger/mod.ts";',
      true,
    ],
    [
      "resource importing a sibling's mod.ts",
      "resources/lake.ts",
      'import { open } from "./object_store/mod.ts";',
      true,
    ],
    ["mod.ts re-exporting a child's mod.ts", "core/mod.ts", 'export * from "./cli/mod.ts";', false],
    [
      "mod.ts importing (not re-exporting) a child's mod.ts",
      "core/mod.ts",
      'import { x } from "./cli/mod.ts";',
      true,
    ],
    [
      "mod.ts re-exporting a parent's mod.ts",
      "core/cli/mod.ts",
      'export * from "../mod.ts";',
      true,
    ],
    ["main.ts importing core/mod.ts", "main.ts", 'import { x } from "./core/mod.ts";', true],
    [
      "graph.ts importing an asset group",
      "graph.ts",
      'import { a } from "./assets/w/mod.ts";',
      false,
    ],
    [
      "a test importing core/mod.ts",
      "tests/x_test.ts",
      'import { x } from "../core/mod.ts";',
      false,
    ],
    ["direct file import", "assets/w/raw.ts", 'import { x } from "../../core/asset.ts";', false],
  ];
  for (const [name, from, text, flagged] of cases) {
    await t.step(name, () => {
      const problems = barrelProblems(importsOf(from, text));
      assert.equal(problems.length, flagged ? 1 : 0, JSON.stringify(problems));
      if (flagged) assert.match(problems[0]?.message ?? "", new RegExp(`^${from}:1: imports `));
    });
  }
});

Deno.test("circles finds every strongly connected group, type and dynamic imports included", () => {
  const edges = [
    ...importsOf("core/a.ts", 'import type { B } from "./b.ts";'),
    ...importsOf("core/b.ts", 'const c = await import("./c.ts");'),
    ...importsOf("core/c.ts", 'import { a } from "./a.ts";'),
    ...importsOf("core/d.ts", 'import { a } from "./a.ts";'),
    ...importsOf("core/e.ts", 'import { e } from "./e.ts";'),
  ];
  assert.deepEqual(circles(edges), [["core/a.ts", "core/b.ts", "core/c.ts"]]);
  const [problem] = circleProblems(edges, []);
  assert.match(problem?.message ?? "", /import circle of 3 files: core\/a\.ts:1 -> core\/b\.ts/);
});

Deno.test("circles handles a long import chain without overflowing the stack", () => {
  const n = 20_000;
  const edges = Array.from(
    { length: n },
    (_, i) => importsOf(`core/m${i}.ts`, `import { x } from "./m${(i + 1) % n}.ts";`)[0]!,
  );
  const found = circles(edges);
  assert.equal(found.length, 1);
  assert.equal(found[0]?.length, n);
});

Deno.test("a known circle is tolerated only inside its folder, and must still exist", () => {
  const dbt = [
    ...importsOf("assets/dbt/a.ts", 'import { b } from "./b.ts";'),
    ...importsOf("assets/dbt/b.ts", 'import { a } from "./a.ts";'),
  ];
  const known = [{ folder: "assets/dbt/", reason: "#18" }];
  assert.deepEqual(circleProblems(dbt, known), []);
  const leaking = [...dbt, ...importsOf("assets/dbt/b.ts", 'import { c } from "../../core/c.ts";')]
    .concat(importsOf("core/c.ts", 'import { a } from "../assets/dbt/a.ts";'));
  const messages = circleProblems(leaking, known).map((p) => p.message);
  assert.match(messages[0] ?? "", /^import circle of 3 files: /);
  assert.match(messages[1] ?? "", /known circle in assets\/dbt\/ is gone/);
  const [stale] = circleProblems([], known);
  assert.match(stale?.message ?? "", /known circle in assets\/dbt\/ is gone \(#18\); delete/);
});

Deno.test("each resource folder's factory is open.ts exporting open<Role>(url, ...)", async (t) => {
  const open = (name: string, first = "url") =>
    `export function ${name}(${first}: string): unknown { return ${first}; }\n`;
  await t.step("the rule holds", async () => {
    assert.deepEqual(
      await problemsOf({
        ...BASE,
        "resources/run_store/open.ts": open("openRunStore"),
        "resources/spatial/open.ts": open("openSpatialEngine"),
        "resources/ledger/open.ts": open("openLedger"),
        "resources/ledger/mongodb.ts": open("openMongoLedger", "uri"),
        "resources/doctor/command.ts": "export const x = 1;\n",
      }),
      [],
    );
  });
  await t.step("a factory outside open.ts, and no open.ts", async () => {
    assert.deepEqual(
      await problemsOf({ ...BASE, "resources/ledger/factory.ts": open("openLedger") }),
      [
        "factory: resources/ledger/factory.ts: exports openLedger; the ledger factory lives in resources/ledger/open.ts",
        "factory: resources/ledger/: has no open.ts exporting openLedger(url, ...); add it, or list the folder in NOT_URL_RESOURCES (tools/check_imports.ts) with the reason",
      ],
    );
  });
  await t.step("a factory in mod.ts beside open.ts", async () => {
    const problems = await problemsOf({
      ...BASE,
      "resources/warehouse/open.ts": open("openWarehouse"),
      "resources/warehouse/mod.ts": open("openWarehouseToo"),
    });
    assert.deepEqual(problems, [
      "factory: resources/warehouse/mod.ts: exports openWarehouseToo; the warehouse factory lives in resources/warehouse/open.ts",
    ]);
  });
  await t.step("open.ts with a misnamed factory, or one not taking the URL first", async () => {
    assert.deepEqual(
      await problemsOf({
        ...BASE,
        "resources/warehouse/open.ts": open("makeWarehouse"),
        "resources/run_store/open.ts": open("openRunStore", "config"),
      }),
      [
        "factory: resources/run_store/open.ts: openRunStore takes 'config' first; a factory takes the resource's URL first: (url, options)",
        "factory: resources/warehouse/open.ts: exports no openWarehouse... function (found none)",
      ],
    );
  });
});

Deno.test("the repository itself passes its own import rules", async () => {
  const problems = await checkImports(new URL("../..", import.meta.url).pathname);
  assert.deepEqual(problems, []);
});
