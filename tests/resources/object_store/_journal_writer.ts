// Child process of the temp-journal tests, writing to the local store at ROOT:
//   stall ROOT KEY  puts KEY from a stream that stalls after its first MiB,
//                   until killed.
//   loop ROOT N     puts, copies and moves N objects under archive/ (and
//                   outputs/), saying "put I" after each; killed somewhere.

import { LocalObjectStore } from "../../../resources/object_store/local.ts";

const [mode, root, arg] = Deno.args;
const store = new LocalObjectStore({ root: root! });
await store.ensureBucket("lake");

if (mode === "stall") {
  setInterval(() => {}, 60_000); // The stalled stream alone would not keep the process alive.
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(new Uint8Array(1 << 20));
    },
  });
  await store.put("lake", arg!, body);
  throw new Error("the stalled put finished");
} else if (mode === "loop") {
  for (let i = 0; i < Number(arg); i++) {
    const key = `archive/${i % 7}/obj-${i}.bin`;
    // Sizes up to 2 MiB of byte i % 251, in 64 KiB chunks: the kill often lands mid-write.
    const size = (i * 7919) % (2 << 20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        const n = Math.min(64 << 10, size - sent);
        controller.enqueue(new Uint8Array(n).fill(i % 251));
        sent += n;
      },
    });
    await store.put("lake", key, body);
    if (i % 3 === 0) {
      await store.copy({ bucket: "lake", key }, { bucket: "lake", key: `outputs/c-${i}.bin` });
    }
    if (i % 5 === 0) {
      await store.move({ bucket: "lake", key }, {
        bucket: "lake",
        key: `archive/moved/obj-${i}.bin`,
      });
    }
    console.log(`put ${i}`);
  }
  console.log("done");
} else {
  throw new Error(`unknown mode ${mode}`);
}
