/**
 * A rule of the code base: a caught value is turned into text with
 * `toError(value).message` (core/errors.ts), which names a non-Error throw
 * as JSON or as Deno prints it. `value instanceof Error ? value.message :
 * String(value)` printed `[object Object]` for an object thrown by a
 * library (a driver's plain error object, a worker's structured clone).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { toError } from "../../core/errors.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const FOLDERS = ["core", "resources", "assets", "sensors", "ui", "formats"];
/**
 * Files that keep the fallback on purpose: they run in a worker or in the GDAL
 * host process, which load as few modules as they can (core/errors.ts brings
 * core/secrets.ts with it).
 */
const ALLOWED = new Set([
  "formats/_tiff_deflate_worker.ts",
  "resources/dbt/project/yaml.ts",
  "resources/spatial/_gdal_host.ts",
]);
const FALLBACK = /(\w[\w.]*) instanceof Error \? \1\.message : String\(\1\)/;

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* tsFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("caught values become text through toError, never String(value)", async () => {
  const found: string[] = [];
  for (const folder of FOLDERS) {
    for await (const path of tsFiles(join(REPO, folder))) {
      const name = relative(REPO, path);
      if (ALLOWED.has(name)) continue;
      const lines = (await Deno.readTextFile(path)).split("\n");
      lines.forEach((line, i) => {
        if (FALLBACK.test(line)) found.push(`${name}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(found, [], "use toError(value).message (core/errors.ts)");
});

Deno.test("toError names what was thrown: objects as JSON, never [object Object]", () => {
  assert.equal(
    toError({ code: "ECONNRESET", errno: -104 }).message,
    '{"code":"ECONNRESET","errno":-104}',
  );
  assert.equal(toError({ message: "socket hang up" }).message, "socket hang up");
  assert.equal(toError("plain text").message, "plain text");
  const cycle: Record<string, unknown> = { name: "cycle" };
  cycle.self = cycle;
  assert.doesNotMatch(toError(cycle).message, /\[object Object\]/);
});
