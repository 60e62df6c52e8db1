/**
 * Temporary files left by writers killed mid-write (`kill -9`): the next
 * `removeEmptyFolders` removes them and their emptied folder, so a rerun never
 * needs a manual cleanup; a live writer's file (in any process) and another
 * host's file are never touched.
 */

import assert from "node:assert/strict";
import { LocalObjectStore } from "../../../resources/object_store/local.ts";
import { tempName, UNOWNED_TEMP_MAX_AGE_MS } from "../../../resources/object_store/_local_temp.ts";

const LANDING = "landing-zone";

/** Another process putting a large streamed body that stalls after its first MiB, until killed. */
const WRITER = (root: string) => `
import { LocalObjectStore } from ${
  JSON.stringify(new URL("../../../resources/object_store/local.ts", import.meta.url).href)
};
setInterval(() => {}, 1000); // The stalled stream alone would not keep the process alive.
const store = new LocalObjectStore({ root: ${JSON.stringify(root)} });
const body = new ReadableStream({ start(controller) { controller.enqueue(new Uint8Array(1 << 20)); } });
await store.put(${JSON.stringify(LANDING)}, "b1/big.bin", body);
console.error("the stalled put finished");
Deno.exit(3);`;

async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort();
}

/** Waits until the writer's temporary file exists (its module load takes seconds when busy). */
async function writerTemp(dir: string, child: Deno.ChildProcess): Promise<string> {
  let exited = false;
  child.status.then(() => (exited = true));
  for (let waited = 0; waited < 180_000; waited += 20) {
    const temp = (await names(dir)).find((name) => name.startsWith(".objstore-"));
    if (temp !== undefined) return temp;
    assert.equal(exited, false, "the writer exited before writing");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no temporary file appeared in ${dir}`);
}

Deno.test("local store: a writer killed mid-put leaves a temp file the next removeEmptyFolders removes, never a live writer's", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_temp_kill_" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", WRITER(root)],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let killed = false;
  try {
    const store = new LocalObjectStore({ root });
    await store.ensureBucket(LANDING);
    const folder = `${root}/${LANDING}/b1`;
    const temp = await writerTemp(folder, child);
    assert.ok(temp.includes(`-p${child.pid}-`), `${temp} names its writer ${child.pid}`);
    // The writer is alive in another process: its file and so its folder stay.
    await store.removeEmptyFolders(LANDING, "b1/");
    assert.deepEqual(await names(folder), [temp]);
    child.kill("SIGKILL");
    await child.status; // Reaped: no process with that pid any more.
    killed = true;
    assert.deepEqual(await names(folder), [temp], "kill -9 left the temporary file");
    assert.deepEqual((await store.list(LANDING)).objects, []);
    await store.removeEmptyFolders(LANDING, "b1/");
    await assert.rejects(Deno.stat(folder), Deno.errors.NotFound);
    // The rerun writes the object as if nothing had happened.
    await store.put(LANDING, "b1/big.bin", new Uint8Array(3));
    assert.deepEqual(await names(folder), ["big.bin"]);
  } finally {
    if (!killed) {
      child.kill("SIGKILL");
      await child.status;
    }
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("local store: removeEmptyFolders keeps temp files of other hosts, live processes and recent unnamed writers", async () => {
  const root = await Deno.makeTempDir({ prefix: "local_temp_rules_" });
  try {
    const store = new LocalObjectStore({ root });
    await store.ensureBucket(LANDING);
    // A pid with certainly no process: a child that has exited and been reaped.
    const gone = new Deno.Command(Deno.execPath(), { args: ["--version"], stdout: "null" }).spawn();
    await gone.status;
    const mine = tempName();
    assert.ok(mine.includes(`-p${Deno.pid}-`), mine);
    const withPid = (pid: number) => mine.replace(`-p${Deno.pid}-`, `-p${pid}-`);
    const deadHere = withPid(gone.pid);
    const otherHost = deadHere.replace(/-h[0-9a-f]{12}-/, "-h0123456789ab-");
    assert.notEqual(otherHost, deadHere);
    const liveHere = mine; // this very process, as a writer still streaming
    const pidOne = withPid(1); // alive; not ours unless root (EPERM counts as alive)
    const oldFresh = ".objstore-0a1b2c3d-4e5f-6a7b.partial"; // named before writers were
    const oldStale = ".objstore-1a1b2c3d-4e5f-6a7b.partial";
    const dir = `${root}/${LANDING}/b1`;
    await Deno.mkdir(`${dir}/sub`, { recursive: true });
    for (const name of [deadHere, otherHost, liveHere, pidOne, oldFresh, oldStale]) {
      await Deno.writeFile(`${dir}/${name}`, new Uint8Array(10));
    }
    await Deno.writeFile(`${dir}/sub/${deadHere}`, new Uint8Array(10));
    const stale = new Date(Date.now() - UNOWNED_TEMP_MAX_AGE_MS - 60 * 60 * 1000);
    await Deno.utime(`${dir}/${oldStale}`, stale, stale);
    await store.removeEmptyFolders(LANDING, "b1/");
    assert.deepEqual(await names(dir), [liveHere, oldFresh, otherHost, pidOne].sort());
    // Sidecar temp files (under .meta) follow the same rules.
    const metaDir = `${root}/.meta/${LANDING}/b2`;
    await Deno.mkdir(metaDir, { recursive: true });
    await Deno.writeFile(`${metaDir}/${deadHere}`, new Uint8Array(10));
    await store.removeEmptyFolders(LANDING, "b2/");
    await assert.rejects(Deno.stat(metaDir), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
