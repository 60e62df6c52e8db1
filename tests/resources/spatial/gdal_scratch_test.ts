/**
 * The GDAL engines' scratch folders under kill -9: a process killed
 * mid-conversion leaves its folder, which the next process's engine
 * removes; processes converting at once while their janitors sweep never
 * lose a live one (resources/_owned_folders.ts).
 */

import assert from "node:assert/strict";
import { removeAbandonedScratch } from "../../../resources/spatial/gdal_native.ts";
import { childLines, names } from "../_child_lines.ts";
import { needs } from "../../_helpers/tools.ts";

const CHILD = new URL("_scratch_child.ts", import.meta.url).pathname;
const HOLD = new URL("../_hold_owned.ts", import.meta.url).pathname;
const LINUX = Deno.build.os === "linux";

/** A child running `_scratch_child.ts` with TMPDIR `tmp`. */
const child = (tmp: string, ...args: string[]) => childLines(CHILD, args, { TMPDIR: tmp });

Deno.test({
  name: "native GDAL: the scratch folder of a process killed with -9 mid-conversion is " +
    "removed by the next process's engine",
  ignore: !LINUX || await needs("gdal"),
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "native-kill-" });
    try {
      const killed = child(tmp, "convert");
      try {
        await killed.said("converting");
      } finally {
        await killed.kill();
      }
      const left = await names(tmp);
      assert.equal(left.length, 1, `the killed process's scratch folder: ${left}`);
      assert.ok((await names(`${tmp}/${left[0]}`)).includes("in.geojson"));
      // The next process's engine converts (its first scratch sweeps), then removes its own.
      const next = child(tmp, "hammer", "1", "1");
      const { code, said } = await next.finish();
      assert.equal(code, 0, said);
      assert.match(said, /done 1/);
      assert.deepEqual(await names(tmp), []);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

/** Processes converting at once (OWNED_FOLDERS_PROCESSES raises it, e.g. to 20, for a hammer run). */
const PROCESSES = Number(Deno.env.get("OWNED_FOLDERS_PROCESSES") ?? 6);

Deno.test({
  name: "native GDAL: processes converting at once while their janitors sweep never lose " +
    "a live scratch folder; killed processes' folders are all removed",
  ignore: !LINUX || await needs("gdal"),
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "native-hammer-" });
    try {
      // Killed processes leave folders for the sweeps to remove meanwhile.
      const doomed = Array.from(
        { length: 3 },
        () => childLines(HOLD, ["gdal-native-"], { TMPDIR: tmp }),
      );
      for (const d of doomed) await d.said("ready");
      await Promise.all(doomed.map((d) => d.kill()));
      const workers = Array.from({ length: PROCESSES }, () => child(tmp, "hammer", "3", "2"));
      // More killed mid-conversion while the others run.
      const killedLater = Array.from({ length: 2 }, () => child(tmp, "convert"));
      for (const k of killedLater) {
        await k.said("converting");
        await k.kill();
      }
      const results = await Promise.all(workers.map((w) => w.finish()));
      for (const { code, said } of results) {
        assert.equal(code, 0, said);
        assert.match(said, /done 6/);
      }
      // The last killed ones may have died after every worker's last sweep.
      await removeAbandonedScratch(tmp);
      assert.deepEqual(await names(tmp), []);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "gdal3.js: the shared folder of a process killed with -9 is removed by the next " +
    "process's runtime; a live process's is kept",
  ignore: !LINUX,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "wasm-kill-" });
    const live = child(tmp, "wasm");
    try {
      await live.said("ready");
      const [liveName] = await names(tmp);
      const killed = child(tmp, "wasm");
      try {
        await killed.said("ready");
      } finally {
        await killed.kill();
      }
      const left = await names(tmp);
      assert.equal(left.length, 2, `the live and the killed process's folders: ${left}`);
      const killedName = left.find((name) => name !== liveName)!;
      assert.ok(killedName.startsWith("gdal3js-"), killedName);
      assert.equal((await names(`${tmp}/${killedName}`)).length, 1, "its job folder");
      // The next process converts, its runtime's start having swept; it removes its own at exit.
      const { code, said } = await child(tmp, "wasm-next").finish();
      assert.equal(code, 0, said);
      assert.match(said, /done/);
      assert.deepEqual(await names(tmp), [liveName]);
      assert.equal((await names(`${tmp}/${liveName}`)).length, 1, "the live one's job folder");
    } finally {
      await live.kill();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
