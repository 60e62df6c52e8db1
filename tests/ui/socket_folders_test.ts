import assert from "node:assert/strict";
import { join } from "node:path";
import {
  removeLegacyFolders,
  removeOrphanSockets,
  socketFolder,
} from "../../ui/_socket_folders.ts";

const MODULE = new URL("../../ui/_socket_folders.ts", import.meta.url).href;

/** Names under `dir` starting with platform-ui-. */
async function folders(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("platform-ui-")) names.push(entry.name);
  }
  return names.sort();
}

Deno.test("ui socket folders: a UI killed with -9 leaves its folder to the next start, a live UI's is kept", async () => {
  // Before: each killed UI left /tmp/platform-ui-XXXX/http.sock for good (a dozen in /tmp).
  const tmp = await Deno.makeTempDir();
  const script = join(tmp, "holder.ts");
  await Deno.writeTextFile(
    script,
    `import { socketFolder } from ${JSON.stringify(MODULE)};
const folder = await socketFolder(Deno.args[0]);
Deno.listen({ transport: "unix", path: folder.path + "/http.sock" });
// An older version's folder (no lock), its UI killed with it.
await Deno.mkdir(Deno.args[1]);
Deno.listen({ transport: "unix", path: Deno.args[1] + "/http.sock" });
console.log(folder.path);
// Held open until killed (a bare never-settling await ends the process, and its exit
// removes the sockets).
setInterval(() => {}, 60_000);
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", script, tmp, join(tmp, "platform-ui-0123456789abcdef")],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const killedPath = (await reader.read()).value?.trim() ?? "";
  assert.ok(killedPath.startsWith(join(tmp, "platform-ui-")), killedPath);
  const legacySocket = join(tmp, "platform-ui-0123456789abcdef", "http.sock");
  for (let i = 0; i < 100 && !(await Deno.lstat(legacySocket).catch(() => null)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel();
  assert.equal((await Deno.stat(killedPath)).isDirectory, true, "left behind by the kill");

  // A live UI of this process, and lock-less folders of older versions besides the killed
  // one: one whose UI listens, one just made and empty.
  const live = await socketFolder(tmp);
  const liveListener = Deno.listen({ transport: "unix", path: join(live.path, "http.sock") });
  const liveLegacy = join(tmp, "platform-ui-fedcba9876543210");
  await Deno.mkdir(liveLegacy);
  const legacyListener = Deno.listen({ transport: "unix", path: join(liveLegacy, "http.sock") });
  const youngEmpty = join(tmp, "platform-ui-00000000000000aa");
  await Deno.mkdir(youngEmpty);
  const unrelated = join(tmp, "platform-ui-notes");
  await Deno.mkdir(unrelated);
  try {
    const next = await socketFolder(tmp);
    const left = await folders(tmp);
    assert.ok(!left.includes(killedPath.slice(tmp.length + 1)), `killed UI's folder kept: ${left}`);
    assert.ok(!left.includes("platform-ui-0123456789abcdef"), "dead legacy folder kept");
    for (const kept of [live.path, liveLegacy, youngEmpty, unrelated, next.path]) {
      assert.ok(left.includes(kept.slice(tmp.length + 1)), `${kept} removed: ${left}`);
    }
    assert.deepEqual(await removeLegacyFolders(tmp), []);
    await next.remove();
  } finally {
    liveListener.close();
    legacyListener.close();
    await live.remove();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("ui sockets: a launcher's UI socket is removed once its launcher is gone, kept while it lives", async () => {
  // Before: a UI killed with -9 under `deno task ui` left /tmp/platform-ui-<pid>.sock for good.
  const tmp = await Deno.makeTempDir();
  const listeners: Deno.Listener[] = [];
  try {
    for (const pid of [999_999_991, 999_999_992]) {
      const path = join(tmp, `platform-ui-${pid}.sock`);
      listeners.push(Deno.listen({ transport: "unix", path }));
    }
    await Deno.writeTextFile(join(tmp, "platform-ui-999999993.sock"), "not a socket");
    const removed = await removeOrphanSockets(tmp, (pid) => Promise.resolve(pid === 999_999_992));
    assert.deepEqual(removed, [join(tmp, "platform-ui-999999991.sock")]);
    const left = await folders(tmp);
    assert.deepEqual(left, ["platform-ui-999999992.sock", "platform-ui-999999993.sock"]);
    // The real liveness check: this process is alive, a pid past the kernel's limit is not.
    const real = await removeOrphanSockets(tmp);
    assert.deepEqual(real, [join(tmp, "platform-ui-999999992.sock")]);
  } finally {
    for (const listener of listeners) listener.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
