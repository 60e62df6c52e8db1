/**
 * The PGlite data dir lock: one process at a time, a waiting process goes on
 * when the holder closes, a dead holder's lock is taken over.
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
  await assert.rejects(Deno.stat(`${dataDir}.lock`), Deno.errors.NotFound);
});

Deno.test("pglite lock: a live holder makes open fail after the timeout; a dead one is taken over", async () => {
  await using dir = await tempDir();
  const dataDir = `${dir.path}/warehouse`;
  const lockPath = `${dataDir}.lock`;
  const holder = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    await writeLock(lockPath, holder.pid);
    const told: string[] = [];
    const started = performance.now();
    const error = await PgliteWarehouse.open(dataDir, {
      lockTimeoutMs: 400,
      lockPollMs: 50,
      onLockWait: (message) => told.push(message),
    }).then(() => undefined, (error: unknown) => error);
    assert.ok(error instanceof WarehouseLockedError, String(error));
    assert.equal(error.code, "warehouse.locked");
    assert.equal(error.holderPid, holder.pid);
    assert.equal(error.lockPath, lockPath);
    assert.match(error.message, new RegExp(`pid ${holder.pid}`));
    assert.ok(performance.now() - started >= 400);
    assert.deepStrictEqual(told, [
      `waiting for the warehouse (held by pid ${holder.pid} at ${lockPath})`,
    ]);
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
  }
  // The holder is dead now and its lock file is still there: take it over.
  const told: string[] = [];
  const warehouse = await PgliteWarehouse.open(dataDir, { onLockWait: (m) => told.push(m) });
  try {
    assert.deepStrictEqual(told, []);
    assert.equal(JSON.parse(await Deno.readTextFile(lockPath)).pid, Deno.pid);
  } finally {
    await warehouse.close();
  }
  await assert.rejects(Deno.stat(lockPath), Deno.errors.NotFound);
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

async function writeLock(path: string, pid: number): Promise<void> {
  await Deno.writeTextFile(
    path,
    JSON.stringify({ pid, hostname: Deno.hostname(), token: crypto.randomUUID() }),
  );
}

function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  return makeTempDir("warehouse-lock-");
}

function countMatches(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}
