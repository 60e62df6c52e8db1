import assert from "node:assert/strict";
import { ConfigError } from "../../../core/errors.ts";
import { openGdal } from "../../../resources/spatial/open.ts";

// In a `deno compile` binary Deno.execPath() is the binary, so a native GDAL host would run
// the platform's CLI instead of libgdal: the binary must use its embedded GDAL.

Deno.test("openGdal in a compiled binary picks the embedded GDAL for auto and says so once", async () => {
  const notes: string[] = [];
  const onNote = (message: string) => notes.push(message);
  const first = await openGdal("auto", { standalone: true, onNote });
  assert.equal(first.kind, "wasm");
  const second = await openGdal("auto", { standalone: true, onNote });
  assert.equal(second.kind, "wasm");
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, /GDAL_ENGINE=auto: this compiled binary uses its embedded GDAL/);
  assert.match(notes[0]!, /deno task/);
});

Deno.test("openGdal in a compiled binary refuses GDAL_ENGINE=native with a configuration error", async () => {
  const error = await openGdal("native", { standalone: true }).then(
    () => assert.fail("GDAL_ENGINE=native opened in a compiled binary"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ConfigError);
  assert.equal(error.code, "config.native_gdal_in_binary");
  assert.equal(error.input, "GDAL_ENGINE");
  assert.match(error.message, /deno task .*deno run.*Docker image/);
  assert.match(error.message, /the binary carries the embedded GDAL/);
});

Deno.test("openGdal in a compiled binary keeps GDAL_ENGINE=wasm without a note", async () => {
  const notes: string[] = [];
  const gdal = await openGdal("wasm", { standalone: true, onNote: (m) => notes.push(m) });
  assert.equal(gdal.kind, "wasm");
  assert.deepEqual(notes, []);
});
