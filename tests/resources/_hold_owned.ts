// Child process of the owned-folder tests: makes a lock-owned folder
// (prefix Deno.args[0], under TMPDIR) holding a 1 MiB file, says "ready",
// and waits to be killed.

import { createOwnedFolder } from "../../resources/_owned_folders.ts";

const owned = await createOwnedFolder(Deno.args[0]!);
await Deno.writeFile(`${owned.path}/warped.tif`, new Uint8Array(1 << 20));
console.log("ready");
// A bare pending promise would let Deno exit: nothing else keeps the loop alive.
setInterval(() => {}, 60_000);
