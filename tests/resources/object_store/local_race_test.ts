/**
 * The local store under another process's moves (two sensor daemons on one
 * landing folder, found by tests/reliability/two_daemons_test.ts): an object
 * moved or deleted between the listing's walk and its stat is left out of the
 * listing (or heads as absent), never an error that fails the caller.
 */

import assert from "node:assert/strict";
import { LocalObjectStore } from "../../../resources/object_store/local.ts";
import { FolderLock, inFolder } from "../../../resources/object_store/_local_fs.ts";

Deno.test("local store: listing and head while another store moves the objects away", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_race_" });
  try {
    const reader = new LocalObjectStore({ root });
    const mover = new LocalObjectStore({ root }); // as another process would: its own locks
    await reader.ensureBucket("landing-zone");
    const keys = Array.from({ length: 300 }, (_, i) => `manifests/m${i}.json`);
    for (const key of keys) await reader.put("landing-zone", key, new TextEncoder().encode("{}"));
    let moving = true;
    const moves = (async () => {
      for (const key of keys) {
        await mover.move(
          { bucket: "landing-zone", key },
          { bucket: "landing-zone", key: `archive/${key}` },
        );
      }
      moving = false;
    })();
    let listings = 0;
    let failure: unknown;
    try {
      while (moving) {
        for await (const object of reader.listAll("landing-zone", { prefix: "manifests/" })) {
          await reader.head("landing-zone", object.key);
        }
        listings++;
      }
    } catch (error) {
      failure = error;
    }
    await moves;
    assert.equal(failure, undefined, `the listing failed: ${failure}`);
    assert.ok(listings > 0);
    assert.equal((await reader.list("landing-zone", { prefix: "manifests/" })).objects.length, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// #15 item 11: the store used to remove `landing-zone/manifests/` when archiving
// its last manifest, under an uploader that had just made it.

const LANDING = "landing-zone";
const bytes = (text: string) => new TextEncoder().encode(text);
const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 4));

Deno.test("local store: archiving the last manifest never removes the folder an uploader writes into", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_prune_" });
  try {
    const store = new LocalObjectStore({ root });
    await store.ensureBucket(LANDING);
    await store.put(LANDING, "manifests/b1.json", bytes("{}"));
    // An uploader (any tool writing into the folder) makes sure the folder exists...
    const folder = `${root}/${LANDING}/manifests`;
    await Deno.mkdir(folder, { recursive: true });
    // ...the daemon archives the last manifest in it, and deletes another key's last file...
    await store.move(
      { bucket: LANDING, key: "manifests/b1.json" },
      { bucket: LANDING, key: "archive/b1/manifest.json" },
    );
    await store.put(LANDING, "b1/a.geojson", bytes("{}"));
    await store.delete(LANDING, "b1/a.geojson");
    // ...and the uploader's write into the folder it made still lands.
    await Deno.writeFile(`${folder}/b2.json`, bytes('{"batch_id":"b2"}'));
    const listed = (await store.list(LANDING, { prefix: "manifests/" })).objects.map((o) => o.key);
    assert.deepEqual(listed, ["manifests/b2.json"]);

    // Folders are not objects: an emptied one is invisible, and an object of its name replaces it.
    assert.equal((await Deno.stat(`${root}/${LANDING}/b1`)).isDirectory, true);
    const top = await store.list(LANDING, { delimiter: "/" });
    assert.deepEqual(top.prefixes, ["archive/", "manifests/"]);
    assert.equal(await store.head(LANDING, "b1"), undefined);
    await assert.rejects(() => store.get(LANDING, "b1"), /no object has this key/);
    await store.put(LANDING, "b1", bytes("now an object"));
    assert.equal(new TextDecoder().decode(await store.getBytes(LANDING, "b1")), "now an object");
    // A folder that still holds an object is a real conflict on a file system.
    await assert.rejects(
      () => store.put(LANDING, "manifests", bytes("x")),
      /cannot be both an object and a folder/,
    );
    // Moving onto an emptied folder's name works too.
    await store.put(LANDING, "c/d/e.txt", bytes("e"));
    await store.delete(LANDING, "c/d/e.txt");
    await store.move({ bucket: LANDING, key: "b1" }, { bucket: LANDING, key: "c/d" });
    assert.equal(new TextDecoder().decode(await store.getBytes(LANDING, "c/d")), "now an object");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local store: uploaders racing a daemon that archives every manifest lose nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_prune_race_" });
  try {
    const daemon = new LocalObjectStore({ root });
    const uploader = new LocalObjectStore({ root }); // another process: its own locks
    await daemon.ensureBucket(LANDING);
    const folder = `${root}/${LANDING}/manifests`;
    const count = 150;
    let uploading = true;
    const failures: unknown[] = [];
    // The daemon archives whatever it finds, so the folder empties again and again.
    const archiving = (async () => {
      while (uploading) {
        const page = await daemon.list(LANDING, { prefix: "manifests/" });
        for (const { key } of page.objects) {
          await daemon.move(
            { bucket: LANDING, key },
            { bucket: LANDING, key: `archive/${key}` },
          ).catch((error) => failures.push(error));
        }
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })();
    // Two uploaders: the store in "another process", and a plain tool (mkdir -p, then write).
    const viaStore = (async () => {
      for (let i = 0; i < count; i++) {
        await uploader.put(LANDING, `manifests/s${i}.json`, bytes(`{"i":${i}}`))
          .catch((error) => failures.push(error));
        await pause(); // so the daemon empties the folder between uploads
      }
    })();
    const viaTool = (async () => {
      for (let i = 0; i < count; i++) {
        try {
          await Deno.mkdir(folder, { recursive: true });
          await pause(); // its own pace between mkdir and write
          await Deno.writeFile(`${folder}/t${i}.json`, bytes(`{"i":${i}}`));
        } catch (error) {
          failures.push(error);
        }
        await pause();
      }
    })();
    await Promise.all([viaStore, viaTool]);
    uploading = false;
    await archiving;
    assert.deepEqual(failures.map(String), []);
    const keys = new Set<string>();
    for await (const { key } of daemon.listAll(LANDING)) keys.add(key.replace(/^archive\//, ""));
    for (let i = 0; i < count; i++) {
      assert.ok(keys.has(`manifests/s${i}.json`), `manifests/s${i}.json lost`);
      assert.ok(keys.has(`manifests/t${i}.json`), `manifests/t${i}.json lost`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local store: a folder removed by someone else between mkdir and write is made again", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_pruner_" });
  try {
    const dir = `${root}/landing-zone/manifests`;
    // A remover (a cleanup script, an older version of the store) strikes right after
    // each mkdir, `strikes` times: the write is retried in a folder made again.
    const racing = (strikes: number) => {
      let made = 0;
      return {
        make: async (d: string) => {
          await Deno.mkdir(d, { recursive: true });
          if (made++ < strikes) await Deno.remove(d);
        },
        get made() {
          return made;
        },
      };
    };
    const write = () => Deno.writeTextFile(`${dir}/m.json`, "{}", { createNew: true });
    const twice = racing(2);
    await inFolder(dir, write, twice.make);
    assert.equal(twice.made, 3);
    assert.equal(await Deno.readTextFile(`${dir}/m.json`), "{}");
    // Not endlessly: a folder that keeps vanishing fails with the file system's error.
    await Deno.remove(dir, { recursive: true });
    const always = racing(Infinity);
    await assert.rejects(() => inFolder(dir, write, always.make), Deno.errors.NotFound);
    assert.equal(always.made, 10);
    // A missing source (of a link or rename into the folder) is not retried, nor other errors.
    await Deno.mkdir(dir, { recursive: true });
    let calls = 0;
    const absent = `${root}/absent.json`;
    await assert.rejects(
      () =>
        inFolder(
          dir,
          () => {
            calls++;
            return Deno.rename(absent, `${dir}/m2.json`);
          },
          undefined,
          absent,
        ),
      Deno.errors.NotFound,
    );
    assert.equal(calls, 1);
    calls = 0;
    await Deno.writeTextFile(`${dir}/m.json`, "{}");
    await assert.rejects(
      () =>
        inFolder(dir, () => {
          calls++;
          return Deno.writeTextFile(`${dir}/m.json`, "{}", { createNew: true });
        }),
      Deno.errors.AlreadyExists,
    );
    assert.equal(calls, 1);
    // The folder made again by another writer between the failure and the check is retried too
    // (the check used to look at whether the folder existed then, and gave up).
    let strikes = 0;
    await inFolder(dir, async () => {
      if (strikes++ === 0) throw new Deno.errors.NotFound("removed, then made again by another");
      await Deno.writeTextFile(`${dir}/m3.json`, "{}", { createNew: true });
    });
    assert.equal(strikes, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * Another process's archiver, on its own thread: moves whatever is in `b1/` to
 * `archive/` and removes the emptied folders, in a loop, until told to stop;
 * answers with its count of removals and its failures.
 */
const ARCHIVER = `
import { LocalObjectStore } from "${new URL(
  "../../../resources/object_store/local.ts",
  import.meta.url,
)}";
self.postMessage("ready");
self.onmessage = async ({ data: root }) => {
  const store = new LocalObjectStore({ root });
  let stop = false;
  self.onmessage = () => (stop = true);
  let removals = 0;
  const failures = [];
  while (!stop) {
    try {
      const page = await store.list("landing-zone", { prefix: "b1/", maxKeys: 20 });
      // Only what is wholly written, as a batch is archived only once its manifest is
      // committed (a move racing the same key's commit in another process is another matter).
      for (const { key } of page.objects) {
        if (!(await store.head("landing-zone", key))?.sha256) continue;
        await store.move({ bucket: "landing-zone", key }, { bucket: "landing-zone", key: "archive/" + key });
      }
      await store.removeEmptyFolders("landing-zone", "b1/");
      removals++;
    } catch (error) {
      failures.push(String(error));
    }
  }
  self.postMessage({ removals, failures });
};`;

Deno.test("local store: removing a batch's emptied folders while another store writes into that folder loses nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_prune_batch_" });
  const worker = new Worker(
    URL.createObjectURL(new Blob([ARCHIVER], { type: "text/javascript" })),
    { type: "module" },
  );
  try {
    const uploader = new LocalObjectStore({ root });
    await uploader.ensureBucket(LANDING);
    const source = `${root}/upload.bin`; // putFile links this in
    await Deno.writeFile(source, bytes("linked"));
    const count = 150;
    const failures: unknown[] = [];
    // Loading the worker's modules takes seconds on a busy machine: uploads start once it runs.
    await new Promise((resolve) => (worker.onmessage = resolve));
    const done = new Promise<{ removals: number; failures: string[] }>((resolve) =>
      worker.onmessage = ({ data }) => resolve(data)
    );
    worker.postMessage(root);
    const puts = (async () => {
      for (let i = 0; i < count; i++) {
        await uploader.put(LANDING, `b1/sub/p${i}.json`, bytes(`{"i":${i}}`))
          .catch((error) => failures.push(error));
        await pause();
      }
    })();
    const putFiles = (async () => {
      for (let i = 0; i < count; i++) {
        await uploader.putFile(LANDING, `b1/f${i}.bin`, source)
          .catch((error) => failures.push(error));
        await pause();
      }
    })();
    await Promise.all([puts, putFiles]);
    worker.postMessage("stop");
    const archiver = await done;
    assert.deepEqual([...failures.map(String), ...archiver.failures], []);
    assert.ok(archiver.removals > 3, `the folder was removed ${archiver.removals} times`);
    const keys = new Map<string, string>();
    for await (const { key } of uploader.listAll(LANDING)) {
      keys.set(key.replace(/^archive\//, ""), key);
    }
    for (let i = 0; i < count; i++) {
      for (const key of [`b1/sub/p${i}.json`, `b1/f${i}.bin`]) {
        const stored = keys.get(key);
        assert.ok(stored, `${key} lost`);
        assert.ok((await uploader.head(LANDING, stored))?.sha256, `${stored} lost its sidecar`);
      }
    }
    // Once the uploads stop, one last archive leaves no folder behind.
    for await (const { key } of uploader.listAll(LANDING, { prefix: "b1/" })) {
      await uploader.move({ bucket: LANDING, key }, { bucket: LANDING, key: `archive/${key}` });
    }
    await uploader.removeEmptyFolders(LANDING, "b1/");
    await assert.rejects(Deno.stat(`${root}/${LANDING}/b1`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${root}/.meta/${LANDING}/b1`), Deno.errors.NotFound);
  } finally {
    worker.terminate();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local store: removeEmptyFolders takes a folder's key, leaves links alone, and is a no-op for no folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_prune_args_" });
  const outside = await Deno.makeTempDir({ prefix: "local_prune_outside_" });
  try {
    const store = new LocalObjectStore({ root });
    await store.ensureBucket(LANDING);
    for (const prefix of ["", "b1", "../b1/", "b1//"]) {
      await assert.rejects(
        () => store.removeEmptyFolders(LANDING, prefix),
        (error: Error & { code?: string }) => error.code === "object_store.invalid_key",
        `prefix '${prefix}'`,
      );
    }
    await store.removeEmptyFolders(LANDING, "never-made/");
    await assert.rejects(
      () => store.removeEmptyFolders("no-such-bucket", "b1/"),
      (error: Error & { code?: string }) => error.code === "object_store.bucket_not_found",
    );
    // A link to a folder outside the store: neither it nor the empty folder it leads to goes.
    await Deno.mkdir(`${outside}/empty`);
    await Deno.symlink(outside, `${root}/${LANDING}/linked`);
    await store.removeEmptyFolders(LANDING, "linked/");
    assert.ok((await Deno.stat(`${outside}/empty`)).isDirectory);
    assert.ok((await Deno.lstat(`${root}/${LANDING}/linked`)).isSymlink);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("local store: writers wait for another process's folder removal, and a killed remover's lock is dropped", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_folder_lock_" });
  try {
    const store = new LocalObjectStore({ root });
    await store.ensureBucket(LANDING);
    // A remover in this process holding the lock: a put waits for it, then lands.
    const remover = new FolderLock(`${root}/.locks/folders`);
    let landed = false;
    let put: Promise<unknown> | undefined;
    await remover.run("exclusive", async () => {
      put = store.put(LANDING, "b1/a.json", bytes("{}")).then(() => (landed = true));
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(landed, false, "the put went on while the remover held the folder lock");
    });
    await put;
    assert.equal(landed, true);
    // A remover in another process killed while holding it: the kernel drops the lock.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const f = await Deno.open(${
          JSON.stringify(`${root}/.locks/folders`)
        }, { read: true, write: true });
         await f.lock(true); console.log("locked"); setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /locked/);
    let afterKill = false;
    const blocked = store.put(LANDING, "b2/a.json", bytes("{}")).then(() => (afterKill = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(afterKill, false, "the put went on while another process held the lock");
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    await blocked;
    assert.equal(new TextDecoder().decode(await store.getBytes(LANDING, "b2/a.json")), "{}");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
