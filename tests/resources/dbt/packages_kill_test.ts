/**
 * kill -9 of `deno task dbt deps` while it installs a package. A package is
 * either installed whole or not at all: a half-copied one would be read by
 * the next `dbt build` as the package (a macro it overrides missing, so
 * dispatch silently falls back to the default). The next `dbt deps` installs
 * it whole and leaves nothing behind to clean up.
 *
 * Kill points are seeded and measured in progress (files written in the
 * project so far), not time.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { installPackages } from "../../../resources/dbt/packages.ts";
import { Random, reliabilitySettings } from "../../_helpers/reliability.ts";
import { writeProject } from "./_fixture.ts";

const MAIN = fileURLToPath(new URL("../../../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));
/** Files of the package: enough that copying it takes a while, little enough to stay quick. */
const PACKAGE_FILES = 1500;
const KILL_POINTS = 3;

/** A local package of `PACKAGE_FILES` macro files (vendor/big in the project). */
function packageFiles(): Record<string, string> {
  const files: Record<string, string> = {
    "vendor/big/dbt_project.yml": 'name: big\nversion: "1.0.0"\nconfig-version: 2\n',
  };
  for (let i = 1; i < PACKAGE_FILES; i++) {
    files[`vendor/big/macros/m${String(i).padStart(4, "0")}.sql`] =
      `{% macro m${i}() %}select ${i}{% endmacro %}\n`;
  }
  return files;
}

Deno.test({
  name:
    "deps: kill -9 while installing leaves the package whole or absent; the next deps installs it",
  async fn() {
    const rng = new Random(reliabilitySettings().seed).fork("dbt-deps-kill");
    const outcomes: string[] = [];
    for (let k = 0; k < KILL_POINTS; k++) {
      // The first point lies in the first half of the package's final copy; the others anywhere.
      const point = k === 0 ? rng.int(1, PACKAGE_FILES / 2) : rng.int(1, 2 * PACKAGE_FILES - 1);
      await using project = await writeProject({
        ...packageFiles(),
        "packages.yml": "packages:\n  - local: vendor/big\n",
      });
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `--config=${CONFIG}`,
          MAIN,
          "dbt",
          "deps",
          "--project-dir",
          project.dir,
        ],
        env: { NO_COLOR: "1", STATE_DIR: `${project.dir}/.state` },
        stdout: "null",
        stderr: "null",
      }).spawn();
      let exited = false;
      const status = child.status.then((s) => (exited = true, s));
      let seen = 0;
      while (!exited) {
        seen = await countFiles(project.dir, new Set(["vendor", ".state"]));
        if (seen >= point) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (!exited) child.kill("SIGKILL");
      const ended = await status;
      if (ended.signal !== "SIGKILL") {
        outcomes.push(`point ${point}: ended on its own (exit ${ended.code}), not a kill point`);
        continue;
      }
      const problems: string[] = [];
      const installed = await countFiles(`${project.dir}/dbt_packages/big`);
      if (installed !== 0 && installed !== PACKAGE_FILES) {
        problems.push(`dbt_packages/big holds ${installed} of ${PACKAGE_FILES} files`);
      }
      await installPackages(project.dir);
      const after = await countFiles(`${project.dir}/dbt_packages/big`);
      if (after !== PACKAGE_FILES) problems.push(`after deps: ${after} files`);
      const left = (await Array.fromAsync(Deno.readDir(project.dir))).map((e) => e.name)
        .filter((name) => !["vendor", ".state", "dbt_packages"].includes(name)).sort();
      assert.deepEqual(left, [
        "dbt_project.yml",
        "package-lock.yml",
        "packages.yml",
        "profiles.yml",
      ]);
      outcomes.push(`kill at ${seen} files: ${problems.length === 0 ? "ok" : problems.join("; ")}`);
    }
    console.log(`  ${outcomes.join("\n  ")}`);
    assert.deepEqual(
      outcomes.filter((o) => !o.endsWith(": ok") && !o.endsWith("not a kill point")),
      [],
      `seed ${reliabilitySettings().seed}`,
    );
    assert.ok(outcomes.some((o) => o.endsWith(": ok")), "no kill point landed");
  },
});

async function countFiles(root: string, skip: ReadonlySet<string> = new Set()): Promise<number> {
  let count = 0;
  try {
    for await (const entry of Deno.readDir(root)) {
      if (skip.has(entry.name)) continue;
      if (entry.isDirectory) count += await countFiles(`${root}/${entry.name}`);
      else count++;
    }
  } catch (error) {
    // Not made yet, or moved under us by the install.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return count;
}
