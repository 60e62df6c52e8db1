import assert from "node:assert/strict";
import { join } from "node:path";
import { removeLegacyFolders, socketFolder } from "../../ui/_socket_folders.ts";

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
await new Promise(() => {});
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
