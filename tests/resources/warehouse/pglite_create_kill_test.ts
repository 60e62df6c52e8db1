/**
 * kill -9 while the embedded warehouse is being created. A new PGlite data dir
 * is made by initdb in a child process (resources/warehouse/_pglite_create.ts);
 * killing the process that opened it (`deno task dbt build` or `materialize`
 * on a first run) leaves that child running as an orphan, still writing. The
 * next open must neither collide with the orphan nor take a half-made dir for
 * a database: it opens a working warehouse, and what it writes is still there
 * once the orphan has ended.
 *
 * Kill points are seeded and measured in progress (files the creation has
 * written so far), not time, so they spread over initdb whatever the
 * machine's speed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PgliteWarehouse } from "../../../resources/warehouse/mod.ts";
import { Random, reliabilitySettings } from "../../_helpers/reliability.ts";
import { tempDir } from "./_child.ts";

const CHILD = fileURLToPath(new URL("./_open_pglite.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));
/** Files a finished data dir holds (PGlite 0.5: about 970); kill points stay below. */
const FILES_IN_NEW_DIR = 900;
/**
 * Kill points per run: each costs two initdb runs (5-20 s on a loaded 2-core machine; three
 * took 43-87 s at load 5-15), and before the fix every point failed, so two keep it near 60 s.
 */
const KILL_POINTS = 2;

Deno.test({
  name: "pglite create: kill -9 during initdb, the next open works and keeps its data",
  async fn() {
    const rng = new Random(reliabilitySettings().seed).fork("pglite-create-kill");
    const points = Array.from({ length: KILL_POINTS }, (_, i) =>
      // One point early, the others anywhere: the early one is where PG_VERSION does not exist yet.
      i === 0 ? rng.int(1, 50) : rng.int(1, FILES_IN_NEW_DIR));
    const outcomes: string[] = [];
    for (const point of points) {
      await using dir = await tempDir("pglite-create-kill-");
      const dataDir = `${dir.path}/state/warehouse`;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `--config=${CONFIG}`, CHILD, dataDir, "60000"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const seen = await waitForFiles(`${dir.path}/state`, point, child);
      // The creation's own processes (the initdb child) are frozen where they are, so the orphan
      // is certainly still mid-write while the next open runs, whatever the machine's speed.
      const orphans = (await processesNaming(dir.path)).filter((pid) => pid !== child.pid);
      for (const pid of orphans) Deno.kill(pid, "SIGSTOP");
      child.kill("SIGKILL");
      await child.status;
      try {
        const warehouse = await PgliteWarehouse.open(dataDir, { lockTimeoutMs: 60_000 });
        try {
          await warehouse.query("CREATE TABLE kept (n int)");
          await warehouse.query("INSERT INTO kept VALUES (42)");
        } finally {
          await warehouse.close();
        }
        // The orphan goes on to its end: it must not write over the dir now in use.
        for (const pid of orphans) Deno.kill(pid, "SIGCONT");
        await waitForOrphans(dir.path);
        const again = await PgliteWarehouse.open(dataDir);
        try {
          const rows = await again.query<{ n: number }>("SELECT n FROM kept");
          assert.deepEqual(rows.map((row) => row.n), [42]);
        } finally {
          await again.close();
        }
        // Nothing for a person to clean up: only the data dir is left, with its lock
        // file (an flock's file is never deleted: b9baa9f, pglite_lock_test).
        const left = [];
        for await (const entry of Deno.readDir(`${dir.path}/state`)) left.push(entry.name);
        assert.deepEqual(left.sort(), ["warehouse", "warehouse.lock"]);
        outcomes.push(`kill at ${seen} files (${orphans.length} orphan): ok`);
      } catch (error) {
        outcomes.push(
          `kill at ${seen} files (${orphans.length} orphan): ${
            error instanceof Error ? error.message : error
          }`,
        );
      } finally {
        for (const pid of orphans) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // Ended already.
          }
        }
        await waitForOrphans(dir.path);
      }
    }
    console.log(`  ${outcomes.join("\n  ")}`);
    assert.deepEqual(
      outcomes.filter((o) => !o.endsWith(": ok")),
      [],
      `seed ${reliabilitySettings().seed}`,
    );
  },
});

/** Waits until `root` holds at least `n` files (the creation's progress); returns the count. */
async function waitForFiles(root: string, n: number, child: Deno.ChildProcess): Promise<number> {
  let exited = false;
  child.status.then(() => (exited = true));
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    const count = await countFiles(root);
    if (count >= n) return count;
    if (exited) throw new Error(`the child ended before writing ${n} files (saw ${count})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`no ${n} files under ${root} within 240 s`);
}

async function countFiles(root: string): Promise<number> {
  let count = 0;
  try {
    for await (const entry of Deno.readDir(root)) {
      if (entry.isDirectory) count += await countFiles(`${root}/${entry.name}`);
      else count++;
    }
  } catch (error) {
    // Not made yet, or removed under us by the creation's own cleanup.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return count;
}

/** Waits until no process has `dir` on its command line (the orphaned initdb child). */
async function waitForOrphans(dir: string): Promise<void> {
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    if ((await processesNaming(dir)).length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`processes still running on ${dir}: ${await processesNaming(dir)}`);
}

async function processesNaming(dir: string): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).replaceAll("\0", " ");
      if (cmd.includes(dir)) found.push(Number(entry.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
