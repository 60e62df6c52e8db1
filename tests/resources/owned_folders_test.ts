/**
 * Lock-owned temp folders (the GDAL engines' scratch and shared folders):
 * the owner's lock is the kernel's flock, so what a process killed with -9
 * leaves is removed by the next sweep, and a live process's folder (another
 * process's, or this one's) never is, even while folders are being made.
 */

import assert from "node:assert/strict";
import {
  createOwnedFolder,
  CREATING_GRACE_MS,
  CREATING_SUFFIX,
  OWNED_SUFFIX,
  removeAbandonedFolders,
} from "../../resources/_owned_folders.ts";
import { childLines, names } from "./_child_lines.ts";

const HOLD = new URL("_hold_owned.ts", import.meta.url).pathname;
const LINUX = Deno.build.os === "linux";

/** A child holding a lock-owned folder `<tmp>/<prefix>XXXX.owned` until killed. */
const holder = (tmp: string, prefix: string) => childLines(HOLD, [prefix], { TMPDIR: tmp });

/** Whether another process can take the folder's lock now (as a janitor would). */
async function lockableByAnother(dir: string): Promise<boolean> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const f = await Deno.open(${JSON.stringify(dir)}, { read: true });` +
      `console.log(await f.tryLock(true));`,
    ],
    stdout: "piped",
  }).output();
  assert.ok(out.success);
  return new TextDecoder().decode(out.stdout).trim() === "true";
}

Deno.test({
  name: "owned folders: the owner's lock is flock's: held against other processes and " +
    "this process's other opens, released by the kernel when the owner is killed",
  ignore: !LINUX,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "owned-lock-" });
    try {
      const held = holder(tmp, "gdal-native-");
      try {
        await held.said("ready");
        const [name] = await names(tmp);
        assert.ok(name?.startsWith("gdal-native-") && name.endsWith(OWNED_SUFFIX), name);
        const dir = `${tmp}/${name}`;
        assert.equal(await lockableByAnother(dir), false, "another process took a held lock");
        // A second open in this process cannot take it either (flock, not fcntl's per-process locks)...
        const mine = await createOwnedFolder("gdal-native-", tmp);
        const again = await Deno.open(mine.path, { read: true });
        assert.equal(await again.tryLock(true), false, "a second open of this process took it");
        // ...and closing that second open does not let the owner's lock go (as fcntl's would).
        again.close();
        assert.equal(await lockableByAnother(mine.path), false);
        await held.kill();
        assert.equal(await lockableByAnother(dir), true, "the killed owner's lock stayed");
        await mine.remove();
      } finally {
        await held.kill();
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "owned folders: a sweep removes a killed process's folder and keeps live ones " +
    "(another process's, this process's), older versions' and others'",
  ignore: !LINUX,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "owned-sweep-" });
    try {
      const killed = holder(tmp, "gdal3js-");
      await killed.said("ready");
      const [killedName] = await names(tmp);
      const live = holder(tmp, "gdal3js-");
      try {
        await live.said("ready");
        const mine = await createOwnedFolder("gdal3js-", tmp);
        await Deno.writeTextFile(`${mine.path}/job-1.sqlite`, "in use");
        // An older version's folder (pid file, no lock) and someone else's folder.
        await Deno.mkdir(`${tmp}/gdal3js-0a1b2c`);
        await Deno.writeTextFile(`${tmp}/gdal3js-0a1b2c/owner.pid`, "");
        await Deno.mkdir(`${tmp}/other${OWNED_SUFFIX}`);
        await killed.kill();
        assert.deepEqual(await removeAbandonedFolders("gdal3js-", tmp), [`${tmp}/${killedName}`]);
        assert.deepEqual(
          await removeAbandonedFolders("gdal3js-", tmp),
          [],
          "a second sweep removes nothing",
        );
        const left = await names(tmp);
        assert.equal(left.length, 4, `${left}`);
        assert.ok(left.includes("gdal3js-0a1b2c") && left.includes(`other${OWNED_SUFFIX}`));
        assert.equal(await Deno.readTextFile(`${mine.path}/job-1.sqlite`), "in use");
        // The native janitor only looks at its own prefix.
        assert.deepEqual(await removeAbandonedFolders("gdal-native-", tmp), []);
        await live.kill();
        await mine.remove();
        assert.equal(
          (await removeAbandonedFolders("gdal3js-", tmp)).length,
          1,
          "the live one, once killed",
        );
        assert.deepEqual(await names(tmp), ["gdal3js-0a1b2c", `other${OWNED_SUFFIX}`]);
      } finally {
        await killed.kill();
        await live.kill();
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "owned folders: sweeps running while folders are made never take one; " +
    "a maker killed before its lock leaves an empty folder removed once an hour old",
  ignore: !LINUX,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "owned-race-" });
    try {
      // Sweeps back to back while 200 folders are made: each is locked before
      // a sweep can see it, so none is swept (the janitor takes no new folder).
      let sweeping = true;
      const swept: string[] = [];
      const sweeper = (async () => {
        while (sweeping) swept.push(...await removeAbandonedFolders("race-", tmp));
      })();
      const made = await Promise.all(
        Array.from({ length: 200 }, () => createOwnedFolder("race-", tmp)),
      );
      sweeping = false;
      await sweeper;
      assert.deepEqual(swept, []);
      for (const folder of made) {
        assert.ok(folder.path.endsWith(OWNED_SUFFIX), folder.path);
        assert.equal(await lockableByAnotherOpen(folder.path), false);
      }
      assert.equal((await names(tmp)).length, 200);
      await Promise.all(made.map((folder) => folder.remove()));
      assert.deepEqual(await names(tmp), []);
      // What a maker killed between its mkdir and its lock leaves: kept while it may
      // still be locked, removed once older than that could take.
      await Deno.mkdir(`${tmp}/race-young${CREATING_SUFFIX}`);
      await Deno.mkdir(`${tmp}/race-old${CREATING_SUFFIX}`);
      const old = new Date(Date.now() - CREATING_GRACE_MS - 60_000);
      await Deno.utime(`${tmp}/race-old${CREATING_SUFFIX}`, old, old);
      assert.deepEqual(await removeAbandonedFolders("race-", tmp), [
        `${tmp}/race-old${CREATING_SUFFIX}`,
      ]);
      assert.deepEqual(await names(tmp), [`race-young${CREATING_SUFFIX}`]);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

/** Whether a second open in this process can take the folder's lock (it must not while owned). */
async function lockableByAnotherOpen(dir: string): Promise<boolean> {
  using again = await Deno.open(dir, { read: true });
  return await again.tryLock(true);
}
