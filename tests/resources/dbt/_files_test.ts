/**
 * Listing a project's files (resources/dbt/_files.ts): a package's folders
 * are walked once per read, and each kind of file comes out as it did from a
 * walk of its own (sorted, project-relative, missing folders empty).
 *
 * @module
 */

import assert from "node:assert/strict";
import { FolderListing, listPaths, listSources } from "../../../resources/dbt/_files.ts";
import { readProject } from "../../../resources/dbt/project/read.ts";
import { writeProject } from "./_fixture.ts";

const FILES: Record<string, string> = {
  "models/b/m_2.sql": "select 2 as id",
  "models/a/m_1.sql": "select 1 as id",
  "models/a/notes.md": "{% docs m_1 %}One.{% enddocs %}",
  "models/a/schema.yml":
    "version: 2\nmodels:\n  - name: m_1\n    description: '{{ doc(\"m_1\") }}'\n",
  "models/z.py": "def model(dbt, session):\n    return dbt.ref('m_1')\n",
  "seeds/countries.csv": "code\nfr\n",
};

Deno.test("dbt files: a read walks the model folder once for its YAML, SQL and docs", async () => {
  await using project = await writeProject(FILES);
  const walked: string[] = [];
  const readDirSync = Deno.readDirSync;
  Deno.readDirSync = (path: string | URL) => {
    walked.push(String(path));
    return readDirSync(path);
  };
  let read;
  try {
    read = await readProject(project.dir, { cache: false });
  } finally {
    Deno.readDirSync = readDirSync;
  }
  // Before: three walks (property files, SQL and Python, docs).
  assert.equal(walked.filter((p) => p === `${project.dir}/models`).length, 1, walked.join("\n"));
  const [root] = read.packages;
  assert.deepEqual(root?.models.map((m) => m.file), [
    "models/a/m_1.sql",
    "models/b/m_2.sql",
    "models/z.py",
  ]);
  assert.deepEqual(root?.docs.map((d) => d.file), ["models/a/notes.md"]);
  assert.deepEqual(root?.properties.map((p) => p.file), ["models/a/schema.yml"]);
  assert.deepEqual(root?.seeds.map((s) => s.file), ["seeds/countries.csv"]);
});

Deno.test("dbt files: one listing gives each extension what a walk of its own gives", async () => {
  await using project = await writeProject(FILES);
  const listing = new FolderListing();
  for (const root of ["models", "models/", "seeds", "missing"]) {
    for (const extensions of [[".sql", ".py"], [".yml", ".yaml"], [".md"], [".csv"]]) {
      assert.deepEqual(
        await listPaths(project.dir, root, extensions, listing),
        await listPaths(project.dir, root, extensions),
        `${root} ${extensions.join(",")}`,
      );
      assert.deepEqual(
        await listSources(project.dir, root, extensions, listing),
        await listSources(project.dir, root, extensions),
      );
    }
  }
  // A listing is what the folder held when first walked: one per read of a package.
  await Deno.writeTextFile(`${project.dir}/models/m_3.sql`, "select 3 as id");
  assert.ok(!(await listPaths(project.dir, "models", [".sql"], listing)).includes("m_3.sql"));
  assert.ok((await listPaths(project.dir, "models", [".sql"])).includes("m_3.sql"));
});
