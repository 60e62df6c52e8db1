// The Swift helper's clean-up of servers left by test processes that died
// without stop() (starting Swift itself is covered by the object store tests).

import assert from "node:assert/strict";
import { reapOrphans } from "./swift.ts";

async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

async function alive(pid: number): Promise<boolean> {
  return await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
}

Deno.test("reapOrphans stops the servers of a dead owner's folder, and only those", async () => {
  const parent = await Deno.makeTempDir({ prefix: "swift-reap-" });
  const dead = `${parent}/swifttest-dead`;
  const living = `${parent}/swifttest-living`;
  const ours = `${parent}/swifttest-ours`;
  const making = `${parent}/swifttest-making`; // its owner file created, not yet written
  const children: Deno.ChildProcess[] = [];
  // A "server" whose command line names its folder, as the real ones do (config path).
  const server = (dir: string) => {
    const child = new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import time; time.sleep(600)", dir],
    }).spawn();
    children.push(child);
    return child.pid;
  };
  try {
    for (const dir of [dead, living, ours, making]) await Deno.mkdir(dir);
    await Deno.writeTextFile(`${making}/owner.pid`, "");
    await Deno.writeTextFile(`${dead}/owner.pid`, String(await deadPid()));
    await Deno.writeTextFile(`${living}/owner.pid`, String(Deno.pid));
    const orphan = server(dead);
    const kept = server(living);
    const stranger = server(parent); // a pid listed by the dead folder but not naming it
    await Deno.writeTextFile(`${dead}/servers.pid`, `${orphan}\n${stranger}\n`);
    await Deno.writeTextFile(`${living}/servers.pid`, `${kept}\n`);

    await reapOrphans(ours);

    assert.equal((await children[0]!.status).signal, "SIGKILL");
    assert.equal(await Deno.stat(dead).then(() => true, () => false), false);
    assert.ok(await alive(kept), "a living owner's server was killed");
    assert.ok(await alive(stranger), "a pid not naming the folder was killed");
    assert.ok((await Deno.stat(living)).isDirectory);
    assert.ok((await Deno.stat(making)).isDirectory, "a folder being made was removed");
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    }
    await Deno.remove(parent, { recursive: true });
  }
});
