/**
 * dbt's target files on a full disk (their own tmpfs): `disk_full` naming the
 * artifact, never its temp file; no temp file left behind, the previous
 * artifact kept whole; written once there is room.
 */

import assert from "node:assert/strict";
import { DiskFullError } from "../../../core/mod.ts";
import { writeTextAtomic } from "../../../resources/dbt/_files.ts";
import { writeJsonParts } from "../../../resources/dbt/_json_stream.ts";
import { rejected } from "../../_helpers/assert_errors.ts";
import { mountTmpfs, tmpfsSkip } from "../../_helpers/tmpfs.ts";

const NO_TMPFS = await tmpfsSkip();

Deno.test(
  "dbt artifacts on a full disk: disk_full naming the artifact, nothing half-written, written after",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(2 * 1024 * 1024);
    const dir = `${disk.path}/target`;
    await writeTextAtomic(dir, "run_results.json", "{}\n");
    await disk.fill(0);
    const big = "x".repeat(512 * 1024);
    const writes: [string, () => Promise<string>][] = [
      ["run_results.json", () => writeTextAtomic(dir, "run_results.json", big)],
      ["manifest.json", () => writeJsonParts(dir, "manifest.json", { nodes: big })],
    ];
    for (const [name, write] of writes) {
      const error = await rejected(write, DiskFullError);
      assert.equal(error.code, "disk_full");
      assert.equal(error.input, `${dir}/${name}`);
      assert.match(error.message, new RegExp(`^no space left on device writing dbt's '${name}'`));
      assert.doesNotMatch(error.message, /\.tmp/);
    }
    const left = await Array.fromAsync(Deno.readDir(dir), (entry) => entry.name);
    assert.deepEqual(left, ["run_results.json"]);
    assert.equal(await Deno.readTextFile(`${dir}/run_results.json`), "{}\n");
    await disk.free();
    for (const [, write] of writes) await write();
    assert.equal(await Deno.readTextFile(`${dir}/run_results.json`), big);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)), { nodes: big });
  },
);
