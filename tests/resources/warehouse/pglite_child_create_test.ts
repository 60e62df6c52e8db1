/**
 * A brand-new PGlite data dir is created (initdb) in a child process, so
 * the memory initdb needs (600-750 MiB in WASM) never counts in the peak of
 * the process that then uses the warehouse; a failed creation leaves no
 * half-made dir behind.
 */

import assert from "node:assert/strict";
import { createDataDir, isDataDir } from "../../../resources/warehouse/_pglite_create.ts";
import { openWarehouse } from "../../../resources/warehouse/open.ts";

Deno.test("pglite: a new data dir is created in a child; this process's peak stays low", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite_child_" });
  try {
    // A process of its own, so its peak (VmHWM) is the open's alone.
    const script = `
      import { openWarehouse } from ${
      JSON.stringify(new URL("../../../resources/warehouse/open.ts", import.meta.url).href)
    };
      const w = await openWarehouse("pglite:${dir}/wh");
      const [row] = await w.query("select count(*)::int as n from pg_class");
      await w.close();
      const peak = Number(/VmHWM:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]) / 1024;
      console.log(JSON.stringify({ n: row.n, peak }));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", new URL("../../../deno.json", import.meta.url).pathname, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const { n, peak } = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.ok(n > 100);
    assert.equal(await isDataDir(`${dir}/wh`), true);
    // initdb in this process peaks at 600-750 MiB; opening an existing dir at ~170-200 MiB.
    assert.ok(peak < 400, `process peak ${peak.toFixed(0)} MiB`);
    await using again = await openWarehouse(`pglite:${dir}/wh`);
    assert.equal((await again.query<{ one: number }>("select 1 as one"))[0]?.one, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pglite: a failed creation names the problem and leaves no half-made dir", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite_child_" });
  try {
    await Deno.writeTextFile(`${dir}/not_a_folder`, "x");
    const location = `${dir}/not_a_folder/wh`;
    await assert.rejects(() => createDataDir(location), /initdb|not a directory|ENOTDIR|exists/i);
    assert.equal(await isDataDir(location), false);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["not_a_folder"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pglite: a dir left half-made in place is replaced; a folder of user files is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite_child_" });
  try {
    // What a creation killed before PG_VERSION was written leaves, plus a killed staging folder.
    await Deno.mkdir(`${dir}/wh/base/1`, { recursive: true });
    await Deno.writeTextFile(`${dir}/wh/base/1/1259`, "half");
    await Deno.mkdir(`${dir}/wh.creating-dead0001/global`, { recursive: true });
    await createDataDir(`${dir}/wh`);
    assert.equal(await isDataDir(`${dir}/wh`), true);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["wh"]);
    await using opened = await openWarehouse(`pglite:${dir}/wh`);
    assert.equal((await opened.query<{ one: number }>("select 1 as one"))[0]?.one, 1);

    await Deno.mkdir(`${dir}/mine`);
    await Deno.writeTextFile(`${dir}/mine/notes.txt`, "keep me");
    await assert.rejects(
      () => createDataDir(`${dir}/mine`),
      (error: Error) => {
        assert.match(error.message, /'.*\/mine' is not empty and is not a PGlite data dir/);
        assert.match(error.message, /'notes\.txt'/);
        assert.match(error.message, /WAREHOUSE_URL/);
        return true;
      },
    );
    assert.equal(await Deno.readTextFile(`${dir}/mine/notes.txt`), "keep me");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pglite: a damaged data dir names itself and says what to do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite_child_" });
  try {
    // A data dir whose files are gone but PG_VERSION (what a disk error or a hand can leave).
    await Deno.mkdir(`${dir}/wh`);
    await Deno.writeTextFile(`${dir}/wh/PG_VERSION`, "17\n");
    await assert.rejects(
      () => openWarehouse(`pglite:${dir}/wh`),
      (error: Error) => {
        assert.match(error.message, new RegExp(`Cannot open the warehouse at ${dir}/wh`));
        assert.match(error.message, /may be damaged.*backup.*move it aside/);
        assert.doesNotMatch(error.message, /\[object Object\]/);
        return true;
      },
    );
    // Nothing of the user's was removed.
    assert.equal(await Deno.readTextFile(`${dir}/wh/PG_VERSION`), "17\n");
    // A real data dir whose control file was cut (a disk error).
    await (await openWarehouse(`pglite:${dir}/cut`)).close();
    await Deno.truncate(`${dir}/cut/global/pg_control`, 100);
    await assert.rejects(
      () => openWarehouse(`pglite:${dir}/cut`),
      (error: Error) => {
        assert.match(error.message, new RegExp(`Cannot open the warehouse at ${dir}/cut`));
        assert.match(error.message, /PGlite stopped while starting .*may be damaged/);
        // Before: Emscripten's "Aborted(). Build with -sASSERTIONS for more info."
        assert.doesNotMatch(error.message, /ASSERTIONS/);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
