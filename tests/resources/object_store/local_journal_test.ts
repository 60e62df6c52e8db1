/**
 * Temporary files of writers killed with -9 in folders `removeEmptyFolders`
 * never walks (archive/, outputs): the next process that writes to the lake
 * removes them through the dead writer's journal, wherever they are; a live
 * writer's (another process's, or this one's) are never touched.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { LocalObjectStore } from "../../../resources/object_store/local.ts";
import {
  COMPACT_BYTES,
  JOURNAL_FILE,
  JOURNALS_DIR,
  sweepJournals,
  TempJournal,
} from "../../../resources/object_store/_local_journal.ts";
import { childLines, names } from "../_child_lines.ts";

const WRITER = new URL("_journal_writer.ts", import.meta.url).pathname;

/** Every temporary file under `dir` (the backend's `.objstore-*.partial`), as paths below it. */
async function temps(dir: string, below = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(join(dir, below))) {
    const path = below === "" ? entry.name : `${below}/${entry.name}`;
    if (entry.isDirectory) found.push(...await temps(dir, path));
    else if (entry.name.startsWith(".objstore-")) found.push(path);
  }
  return found.sort();
}

/** Waits until a temporary file appears under `dir` (module loading is slow when busy). */
async function tempAppears(root: string, dir: string, child: Deno.ChildProcess): Promise<string> {
  let exited = false;
  child.status.then(() => (exited = true));
  for (let waited = 0; waited < 180_000; waited += 20) {
    const found = (await temps(root).catch(() => [])).filter((t) => t.startsWith(dir));
    if (found.length > 0) return found[0]!;
    assert.equal(exited, false, "the writer exited before writing");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no temporary file appeared in ${dir}`);
}

Deno.test("local store: a writer killed mid-put in archive/ leaves a temp file the next writing process removes; live writers' are kept", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_journal_kill_" });
  const killed = childLines(WRITER, ["stall", root, "archive/2024/06/parcels.fgb"]);
  const live = childLines(WRITER, ["stall", root, "outputs/live/roads.parquet"]);
  try {
    const killedTemp = await tempAppears(root, "lake/archive/", killed.process);
    const liveTemp = await tempAppears(root, "lake/outputs/", live.process);
    await killed.kill();
    assert.deepEqual(await temps(root), [killedTemp, liveTemp], "kill -9 left its temp file");
    // This process's first write to the lake, in another folder, sweeps: the killed
    // writer's temp file goes, the live one's stays, and so does this one's own
    // stalled put (same process).
    await using store = new LocalObjectStore({ root });
    const gate = Promise.withResolvers<void>();
    const mine = store.put(
      "lake",
      "outputs/mine.bin",
      new ReadableStream({
        async pull(controller) {
          controller.enqueue(new Uint8Array(1000));
          await gate.promise;
          controller.close();
        },
      }),
    );
    const mineTemp = await tempAppears(root, "lake/outputs/.objstore-", live.process);
    assert.deepEqual(await temps(root), [liveTemp, mineTemp].sort());
    // More sweeps (as other processes' would) while both writers are mid-write.
    assert.deepEqual(await sweepJournals(root), []);
    assert.deepEqual(await temps(root), [liveTemp, mineTemp].sort());
    gate.resolve();
    await mine;
    assert.deepEqual(await temps(root), [liveTemp]);
    await live.kill();
    assert.deepEqual(await sweepJournals(root), [join(root, liveTemp)]);
    assert.deepEqual(await temps(root), []);
    // Only this process's journal is left; the dead writers' went with their files.
    assert.equal((await names(join(root, JOURNALS_DIR))).length, 1);
    assert.deepEqual(await names(join(root, "lake", "archive", "2024", "06")), []);
  } finally {
    await killed.kill();
    await live.kill();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local store: writers killed with -9 at any moment of puts, copies and moves leave no temp file after the next process's first write, and only whole objects", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_journal_loop_" });
  try {
    // Kill points spread over the loop, each after a different number of objects.
    for (const after of [0, 3, 8, 13]) {
      const writer = childLines(WRITER, ["loop", root, "40"]);
      try {
        await writer.said(`put ${after}\n`);
        // A little later, so the kill lands inside the next put (or copy, or move).
        await new Promise((resolve) => setTimeout(resolve, after * 7));
      } finally {
        await writer.kill();
      }
    }
    // And one certainly mid-write (a stalled stream) in a folder of its own.
    const stalled = childLines(WRITER, ["stall", root, "archive/stalled/big.bin"]);
    try {
      await tempAppears(root, "lake/archive/stalled/", stalled.process);
    } finally {
      await stalled.kill();
    }
    // Each writer's first put swept the journals of those killed before it: the last one's is left.
    assert.equal((await names(join(root, JOURNALS_DIR))).length, 1, "the last killed writer's");
    const left = await temps(root);
    assert.ok(left.some((t) => t.startsWith("lake/archive/stalled/")), `${left}`);
    await using store = new LocalObjectStore({ root });
    await store.put("lake", "outputs/next-run.txt", new TextEncoder().encode("rerun"));
    assert.deepEqual(await temps(root), [], `${left.length} temp files were left before`);
    assert.equal((await names(join(root, JOURNALS_DIR))).length, 1, "only this process's journal");
    // What is listed is whole: each object's size and bytes are the writer's.
    const objects = [];
    for (let page = await store.list("lake");;) {
      objects.push(...page.objects);
      if (page.nextContinuationToken === undefined) break;
      page = await store.list("lake", { continuationToken: page.nextContinuationToken });
    }
    assert.ok(objects.length > 10, `${objects.length} objects`);
    for (const { key, size } of objects) {
      const i = Number(/(\d+)\.bin$/.exec(key)?.[1] ?? NaN);
      if (Number.isNaN(i)) continue; // next-run.txt
      const bytes = await store.getBytes("lake", key);
      assert.equal(size, (i * 7919) % (2 << 20), key);
      assert.equal(bytes.length, size, key);
      assert.ok(bytes.every((b) => b === i % 251), `${key} holds only its own bytes`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local store: a journal line never removes anything but a temporary file inside the lake", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_journal_records_" });
  const outside = await Deno.makeTempDir({ prefix: "local_journal_outside_" });
  try {
    const killed = childLines(WRITER, ["stall", root, "archive/a.bin"]);
    try {
      await tempAppears(root, "lake/archive/", killed.process);
    } finally {
      await killed.kill();
    }
    const [journal] = await names(join(root, JOURNALS_DIR));
    const name = ".objstore-p1-h0123456789ab-0123456789ab.partial";
    // Records naming a key, a file outside the lake, and another name than their own.
    await Deno.writeTextFile(`${root}/lake/archive/kept.bin`, "an object");
    await Deno.writeTextFile(`${outside}/${name}`, "not the lake's");
    await Deno.writeTextFile(`${root}/lake/${name}`, "named only through '..'");
    const file = join(root, JOURNALS_DIR, journal!, JOURNAL_FILE);
    // Lines naming a key, a file outside the lake, an absolute path, a path with "..".
    const lines = [
      "lake/archive/kept.bin",
      `../${outside.split("/").pop()}/${name}`,
      `${outside}/${name}`,
      `lake/archive/../${name}`,
    ];
    await Deno.writeTextFile(file, lines.join("\t") + "\n", { append: true });
    const removed = await sweepJournals(root);
    assert.equal(removed.length, 1, `only the killed writer's temp file: ${removed}`);
    assert.match(removed[0]!, /lake\/archive\/\.objstore-/);
    assert.equal(await Deno.readTextFile(`${root}/lake/archive/kept.bin`), "an object");
    assert.equal(await Deno.readTextFile(`${outside}/${name}`), "not the lake's");
    assert.equal(await Deno.readTextFile(`${root}/lake/${name}`), "named only through '..'");
    assert.deepEqual(await names(join(root, JOURNALS_DIR)), []);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("local store: the journal of a writer that always has a write in flight stays small, naming every write in flight", async () => {
  const root = await Deno.makeTempDir({ prefix: "journal_compact_" });
  try {
    const journal = new TempJournal(root);
    await Deno.mkdir(join(root, "a"));
    // A long write that never ends while thousands of others begin and end.
    const long = await journal.begin([join(root, "a")]);
    let last: string[] = [];
    let largest = 0;
    const file = async () => {
      const [folder] = await Array.fromAsync(Deno.readDir(join(root, JOURNALS_DIR)));
      return join(root, JOURNALS_DIR, folder!.name, JOURNAL_FILE);
    };
    for (let i = 0; i < 3_000; i++) {
      const overlapping = await journal.begin([join(root, "a"), join(root, "a")]);
      if (i > 0) journal.end(last);
      last = overlapping;
      if (i % 100 === 0) largest = Math.max(largest, (await Deno.stat(await file())).size);
    }
    const text = await Deno.readTextFile(await file());
    const size = new TextEncoder().encode(text).byteLength;
    largest = Math.max(largest, size);
    // 3,000 writes' lines are ~300 KiB: kept within the compaction bound (+ one line).
    assert.ok(largest < COMPACT_BYTES + 1_024, `the journal grew to ${largest} bytes`);
    // Every write still in flight is named: a kill now loses none of their temp files.
    for (const path of [...long, ...last]) {
      assert.ok(text.includes(path.slice(root.length + 1)), `${path} not in the journal`);
    }
    journal.end(long);
    journal.end(last);
    assert.equal((await Deno.stat(await file())).size, 0);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(join(await file(), "..")))).map((e) => e.name),
      [JOURNAL_FILE],
      "no journal.next left",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local store: after a compaction and every write ended, the next write's line starts the journal (no hole of NUL bytes before it)", async () => {
  const root = await Deno.makeTempDir({ prefix: "journal_compact_reuse_" });
  try {
    const journal = new TempJournal(root);
    await Deno.mkdir(join(root, "a"));
    const long = await journal.begin([join(root, "a")]);
    let last: string[] = [];
    // Enough overlapping writes for at least one compaction (~100 bytes a line).
    for (let i = 0; i < 2 * COMPACT_BYTES / 50; i++) {
      const overlapping = await journal.begin([join(root, "a")]);
      if (i > 0) journal.end(last);
      last = overlapping;
    }
    journal.end(long);
    journal.end(last);
    const [folder] = await Array.fromAsync(Deno.readDir(join(root, JOURNALS_DIR)));
    const file = join(root, JOURNALS_DIR, folder!.name, JOURNAL_FILE);
    assert.equal((await Deno.stat(file)).size, 0);
    const next = await journal.begin([join(root, "a")]);
    const bytes = await Deno.readFile(file);
    assert.ok(!bytes.includes(0), `the journal holds NUL bytes (${bytes.byteLength} bytes)`);
    assert.equal(new TextDecoder().decode(bytes), `${next[0]!.slice(root.length + 1)}\n`);
    journal.end(next);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
