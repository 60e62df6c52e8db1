/**
 * The PGlite data dir lock (an flock on `<dir>.lock`): one process at a time,
 * a waiting process goes on when the holder closes, a killed holder's lock is
 * free at once, and what the file says (a pid since recycled, another
 * container's host) never keeps anyone out.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PgliteWarehouse, WarehouseLockedError } from "../../../resources/warehouse/mod.ts";
import { collect, exitedWithin, tempDir as makeTempDir } from "./_child.ts";

const CHILD = fileURLToPath(new URL("./_open_pglite.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));

Deno.test("pglite lock: a second process waits for the holder, then proceeds", async () => {
  await using dir = await tempDir();
  const dataDir = `${dir.path}/warehouse`;
  const first = await PgliteWarehouse.open(dataDir);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, CHILD, dataDir, "60000"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = collect(child.stderr);
  const stdout = collect(child.stdout);
  try {
    const waiting = await stderr.waitFor(/waiting for the warehouse \(held by pid (\d+) at (.+)\)/);
    assert.equal(Number(waiting[1]), Deno.pid);
    assert.equal(waiting[2], `${dataDir}.lock`);
    assert.equal(await exitedWithin(child, 300), false, "the child must still be waiting");
  } finally {
    await first.close();
  }
  const status = await child.status;
  assert.equal((await stdout.all).trim(), "opened", await stderr.all);
  assert.equal(status.code, 0);
  assert.equal(countMatches(await stderr.all, /waiting for the warehouse/g), 1);
});

Deno.test("pglite lock: a live holder makes open fail after the timeout; once killed (-9) its lock is free at once", async () => {
  await using dir = await tempDir();
  const dataDir = `${dir.path}/warehouse`;
  const lockPath = `${dataDir}.lock`;
  // Another process holding the lock (flock(1) takes the same flock(2) lock), its pid written.
  await Deno.writeTextFile(lockPath, "");
  // `-o`: the command (which writes flock's pid, then sleeps) does not inherit the lock.
  const script = `echo '{"pid":'$PPID',"hostname":"${Deno.hostname()}"}' > ${lockPath}; ` +
    "echo locked $$; exec sleep 60";
  const holder = new Deno.Command("flock", {
    args: ["-x", "-o", lockPath, "sh", "-c", script],
    stdout: "piped",
  }).spawn();
  const out = collect(holder.stdout);
  let sleeper = 0;
  try {
    sleeper = Number((await out.waitFor(/locked (\d+)/))[1]);
    const holderPid = JSON.parse(await Deno.readTextFile(lockPath)).pid;
    assert.equal(holderPid, holder.pid);
    const told: string[] = [];
    const started = performance.now();
    const error = await PgliteWarehouse.open(dataDir, {
      lockTimeoutMs: 400,
      lockPollMs: 50,
      onLockWait: (message) => told.push(message),
    }).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof WarehouseLockedError, String(error));
    assert.equal(error.code, "warehouse.locked");
    assert.equal(error.holderPid, holderPid);
    assert.equal(error.lockPath, lockPath);
    assert.match(error.message, new RegExp(`still held after 0 s \\(pid ${holderPid}, lock file`));
    assert.ok(performance.now() - started >= 400);
    assert.deepStrictEqual(told, [
      `waiting for the warehouse (held by pid ${holderPid} at ${lockPath})`,
    ]);
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
    if (sleeper) Deno.kill(sleeper, "SIGKILL");
  }
  // Killed: the file still names it, but the kernel let its lock go.
  const told: string[] = [];
  const warehouse = await PgliteWarehouse.open(dataDir, {
    lockTimeoutMs: 10_000,
    onLockWait: (m) => told.push(m),
  });
  try {
    assert.deepStrictEqual(told, []);
    assert.equal(JSON.parse(await Deno.readTextFile(lockPath)).pid, Deno.pid);
  } finally {
    await warehouse.close();
  }
  assert.equal(await Deno.readTextFile(lockPath), "", "names nobody once closed");
});

Deno.test("pglite lock: a file naming a recycled pid or another container's process keeps nobody out", async () => {
  await using dir = await tempDir();
  const dataDir = `${dir.path}/warehouse`;
  const lockPath = `${dataDir}.lock`;
  // A holder killed long ago whose pid now belongs to an unrelated live process, and
  // one of another container sharing the volume (its pid says nothing here).
  const unrelated = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    for (const hostname of [Deno.hostname(), "another-container"]) {
      await Deno.writeTextFile(
        lockPath,
        JSON.stringify({ pid: unrelated.pid, hostname, token: "t" }),
      );
      let waits = 0;
      const warehouse = await PgliteWarehouse.open(dataDir, {
        lockTimeoutMs: 300,
        onLockWait: () => waits++,
      });
      await warehouse.close();
      assert.equal(waits, 0, `waited for a lock file naming pid ${unrelated.pid} on ${hostname}`);
    }
  } finally {
    unrelated.kill("SIGKILL");
    await unrelated.status;
  }
});

Deno.test("pglite lock: a garbled lock file left long ago is taken over", async () => {
  await using dir = await tempDir();
  const dataDir = `${dir.path}/warehouse`;
  await Deno.writeTextFile(`${dataDir}.lock`, "");
  const longAgo = new Date(Date.now() - 60_000);
  await Deno.utime(`${dataDir}.lock`, longAgo, longAgo);
  const warehouse = await PgliteWarehouse.open(dataDir, { lockTimeoutMs: 1_000 });
  await warehouse.close();
});

Deno.test("pglite lock: opening the same data dir twice in one process fails at once", async () => {
  await using dir = await tempDir();
  const dataDir = `${dir.path}/warehouse`;
  await using _first = await PgliteWarehouse.open(dataDir);
  // "At once": it never starts waiting for the lock (which a wall-time bound
  // on a loaded machine could not tell from a short wait).
  let waits = 0;
  await assert.rejects(
    PgliteWarehouse.open(dataDir, { lockTimeoutMs: 10_000, onLockWait: () => waits++ }),
    (error) =>
      error instanceof WarehouseLockedError && /already open in this process/.test(error.message),
  );
  assert.equal(waits, 0, "waited for a lock this process holds");
});

function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  return makeTempDir("warehouse-lock-");
}

function countMatches(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

Deno.test("pglite lock: the same data dir through a symlinked folder, open in this process, fails at once", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/real`);
  await Deno.symlink(`${dir.path}/real`, `${dir.path}/link`);
  await using _first = await PgliteWarehouse.open(`${dir.path}/real/warehouse`);
  let waits = 0;
  await assert.rejects(
    PgliteWarehouse.open(`${dir.path}/link/warehouse`, {
      lockTimeoutMs: 1_000,
      onLockWait: () => waits++,
    }),
    (error) =>
      error instanceof WarehouseLockedError && /already open in this process/.test(error.message),
  );
  assert.equal(waits, 0, "waited for a lock this process holds");
});
