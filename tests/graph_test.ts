// What loading the graph costs at start: every command (`deno task
// materialize` of one spatial batch included) loads graph.ts, so a heavy
// library a run may never need must be imported on first use, not with it.

import assert from "node:assert/strict";

/** One module of `deno info --json`. */
interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/**
 * The npm packages `root` loads before its first line runs: its static,
 * non-type imports followed transitively (dynamic imports and `import type`
 * left out), as `deno info` resolves them.
 */
async function packagesLoadedAtStart(root: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(root, import.meta.url).pathname],
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects?: Record<string, string>;
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const packages = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const specifier = info.redirects?.[stack.at(-1)!] ?? stack.at(-1)!;
    stack.pop();
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    const npm = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)/.exec(specifier);
    if (npm) {
      packages.add(npm[1]!);
      continue;
    }
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code && !dependency.isDynamic) stack.push(dependency.code.specifier);
    }
  }
  return packages;
}

Deno.test("graph.ts: loads no storage driver, GDAL build or Parquet writer at start", async () => {
  const loaded = await packagesLoadedAtStart("../graph.ts");
  // The walk must see the graph's real imports, or the test below proves nothing.
  assert.ok(loaded.has("zod"), `expected zod among ${[...loaded].join(", ")}`);
  // Each is imported where it is first used: an S3 lake's first call, a
  // warehouse or queue opening, a vector batch writing GeoParquet, gdal3.js
  // when GDAL_ENGINE picks it.
  for (
    const heavy of [
      "@aws-sdk/client-s3",
      "@duckdb/node-api",
      "@electric-sql/pglite",
      "postgres",
      "graphile-worker",
      "parquet-wasm",
      "apache-arrow",
      "gdal3.js",
    ]
  ) {
    assert.ok(!loaded.has(heavy), `graph.ts loads ${heavy} at start`);
  }
});

Deno.test("graph.ts: a malformed WEATHER_PLACES_FILE fails the command at start: exit 2, named", async () => {
  // Before: `list` and `materialize` started fine and raw_weather failed at run (exit 1).
  const dir = await Deno.makeTempDir();
  try {
    const places = `${dir}/places.json`;
    await Deno.writeTextFile(places, '{"places": [{"name": "Red Lodge"}]}');
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, "list"],
      env: {
        NO_COLOR: "1",
        WEATHER_PLACES_FILE: places,
        STATE_DIR: `${dir}/state`,
        LAKE_URL: `file://${dir}/lake`,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(
      stderr,
      /error \[weather\.invalid_places\]: Cannot load places file '.*places\.json': places\[0\]\.name: must be a slug/,
    );
    assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/, "no stack trace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
