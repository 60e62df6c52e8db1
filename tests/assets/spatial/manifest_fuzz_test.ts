/**
 * Seeded fuzz of manifest validation, in memory (no GDAL, no daemon): a good
 * manifest damaged in the ways users and scripts damage one (truncated JSON,
 * values of the wrong type, huge and odd numbers, unicode and control
 * characters, paths that leave the batch, absolute and Windows paths,
 * duplicate and missing files, one name in two unicode forms (NFC/NFD) or
 * two cases, zero-byte files, bit flips). Whatever comes
 * in, validation answers (it never throws), accepts only paths inside the
 * batch that exist, and every problem it reports is one readable line that
 * names the manifest: no stack, no `[object Object]`, no raw control
 * character, no megabyte echo of the input.
 *
 * `MANIFEST_FUZZ_CASES` (default 200, about a second) and
 * `MANIFEST_FUZZ_SEED` (default 11) replay or widen it; the seed is in every
 * failure message. The whole pipeline over such inputs is
 * tests/reliability/fuzz_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { quarantineManifest, validateManifest } from "../../../assets/spatial/manifest.ts";
import { Random } from "../../_helpers/reliability.ts";

const BUCKET = "landing-zone";
const KEY = "manifests/b1.json";
const CASES = Number(Deno.env.get("MANIFEST_FUZZ_CASES") ?? 200);
const SEED = Number(Deno.env.get("MANIFEST_FUZZ_SEED") ?? 11);
const encoder = new TextEncoder();

const GOOD = {
  batch_id: "b1",
  uploader: "ana@example.org",
  intent: "publish",
  files: [
    { path: "b1/trailheads.geojson", type: "vector", format: "geojson", crs: "EPSG:4326" },
    { path: "b1/dem.tif", type: "raster", format: "geotiff", crs: "EPSG:32612" },
  ],
  metadata: { project: "montana", description: "Trailheads and a DEM" },
};
const UPLOADED = [
  "b1/trailheads.geojson",
  "b1/dem.tif",
  "b1/empty.geojson",
  "b2/other.geojson",
  "b1/caf\u00e9.geojson",
  "b1/cafe\u0301.geojson",
  "b1/Caf\u00e9.geojson",
  "b1/CAFE\u0301.geojson",
];

/** Values of every JSON type and the odd ones. */
const VALUES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  -0,
  1.5,
  99999999999999999999,
  "",
  " ",
  "\u0000",
  "\u001b[2J",
  "\u202etxt.exe",
  "ünïcödé ✓",
  "x".repeat(100_000),
  [],
  [1, 2],
  {},
  { a: { b: { c: [] } } },
  "EPSG:999999999999",
  "[object Object]",
];

/** Paths a manifest may name instead of a file of its batch. */
const PATHS: readonly string[] = [
  "../b2/other.geojson",
  "b1/../b2/other.geojson",
  "b1/../../etc/passwd",
  "/etc/passwd",
  "/b1/trailheads.geojson",
  "C:\\b1\\x.geojson",
  "b1\\trailheads.geojson",
  "b1//trailheads.geojson",
  "b1/./trailheads.geojson",
  "b1/",
  "b1",
  "",
  "b1/\u0000.geojson",
  "b1/line\nend.geojson",
  "b1/ünïcode.geojson",
  "b1/empty.geojson",
  "b1/" + "a".repeat(5000) + ".geojson",
  "b2/other.geojson",
  "manifests/b1.json",
  "quarantine/b1.json",
  "%2e%2e/b2/other.geojson",
  "b1/%2e%2e/b2/other.geojson",
  "file:///etc/passwd",
  "s3://other-bucket/x.geojson",
];

type Mutation = (rng: Random, doc: Record<string, unknown>) => string;

const json = (doc: unknown) => JSON.stringify(doc);

/** Each way of damaging the manifest; each returns the committed text. */
const MUTATIONS: Record<string, Mutation> = {
  truncated: (rng, doc) => {
    const text = json(doc);
    return text.slice(0, rng.int(0, text.length - 1));
  },
  top_level_value: (rng, doc) => {
    const key = rng.pick(Object.keys(doc));
    doc[key] = rng.pick(VALUES);
    return json(doc);
  },
  file_field_value: (rng, doc) => {
    const file = (doc.files as Record<string, unknown>[])[rng.int(0, 1)] as Record<string, unknown>;
    file[rng.pick(["path", "type", "format", "crs", "layer", "band_count", "unknown_field"])] = rng
      .pick(VALUES);
    return json(doc);
  },
  metadata_value: (rng, doc) => {
    const metadata = doc.metadata as Record<string, unknown>;
    metadata[rng.pick(["project", "description", "license", "keywords", "bbox"])] = rng.pick(
      VALUES,
    );
    return json(doc);
  },
  path: (rng, doc) => {
    const file = (doc.files as Record<string, unknown>[])[rng.int(0, 1)] as Record<string, unknown>;
    file.path = rng.pick(PATHS);
    return json(doc);
  },
  duplicate_file: (rng, doc) => {
    const files = doc.files as unknown[];
    files.push(structuredClone(files[rng.int(0, files.length - 1)]));
    return json(doc);
  },
  many_files: (rng, doc) => {
    const files = doc.files as unknown[];
    const one = files[0];
    doc.files = Array.from({ length: rng.int(100, 3000) }, () => one);
    return json(doc);
  },
  no_files: (_rng, doc) => {
    doc.files = [];
    return json(doc);
  },
  removed_key: (rng, doc) => {
    delete doc[rng.pick(Object.keys(doc))];
    return json(doc);
  },
  duplicate_key: (rng, doc) => {
    const text = json(doc);
    return text.replace(
      '"intent":',
      `"${rng.pick(["intent", "batch_id", "files"])}":"x","intent":`,
    );
  },
  batch_id: (rng, doc) => {
    doc.batch_id = rng.pick(["B1", "b1 ", "b2", "../b1", "b1/x", "", "b".repeat(200), "b\u00001"]);
    return json(doc);
  },
  bit_flip: (rng, doc) => {
    const bytes = encoder.encode(json(doc));
    for (let i = rng.int(1, 8); i > 0; i--) {
      bytes[rng.int(0, bytes.length - 1)]! ^= 1 << rng.int(0, 7);
    }
    return new TextDecoder().decode(bytes);
  },
  raw_control_character: (rng, doc) => {
    const text = json(doc);
    const at = rng.int(1, text.length - 2);
    return text.slice(0, at) + rng.pick(["\u001b[2J", "\u0007", "\u0000", "\r"]) + text.slice(at);
  },
  not_json: (rng) => rng.pick(["", " ", "null", "[]", "42", '"b1"', "{", "<xml/>", "\ufeff{}"]),
  // A second entry naming the first file's name in another unicode form or case (both uploaded).
  unicode_or_case_twin: (rng, doc) => {
    const files = doc.files as Record<string, unknown>[];
    const twin = rng.pick([
      "b1/cafe\u0301.geojson",
      "b1/Caf\u00e9.geojson",
      "b1/CAFE\u0301.geojson",
    ]);
    files[0]!.path = "b1/caf\u00e9.geojson";
    files.push({ ...files[0], path: twin });
    return json(doc);
  },
  deep_nesting: (rng, doc) => {
    const depth = rng.int(100, 5000);
    doc.metadata = JSON.parse("[".repeat(depth) + "]".repeat(depth));
    return json(doc);
  },
};

/** What no problem message may contain. */
const FORBIDDEN: readonly [RegExp, string][] = [
  [/\[object Object\]/, "[object Object]"],
  [/\n\s+at .*:\d+/, "a stack trace"],
  // deno-lint-ignore no-control-regex
  [/[\u0000-\u001f\u007f]/, "a raw control character"],
];

Deno.test(`manifest fuzz: ${CASES} damaged manifests (seed ${SEED}) are answered with readable problems, or accepted only inside the batch`, async () => {
  const rng = new Random(SEED);
  const names = Object.keys(MUTATIONS);
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    // Every mutation once before any repeats, then at random; sometimes two at once.
    const first = i < names.length ? names[i]! : rng.pick(names);
    const doc = structuredClone(GOOD) as Record<string, unknown>;
    let text = MUTATIONS[first]!(rng, doc);
    let label = first;
    if (i >= names.length && rng.chance(0.3)) {
      const second = rng.pick(names);
      try {
        const again = JSON.parse(text);
        if (again && typeof again === "object" && !Array.isArray(again)) {
          text = MUTATIONS[second]!(rng, again);
          label += `+${second}`;
        }
      } catch {
        // Not JSON any more: the first damage stands alone.
      }
    }
    const where = `case ${i} (${label}, seed ${SEED}): ${JSON.stringify(text.slice(0, 160))}`;
    const store = new MemoryObjectStore();
    await store.ensureBucket(BUCKET);
    for (const key of UPLOADED) {
      await store.put(BUCKET, key, key.includes("empty") ? new Uint8Array() : encoder.encode("x"));
    }
    await store.put(BUCKET, KEY, encoder.encode(text));
    let result;
    try {
      result = await validateManifest(store, BUCKET, KEY);
    } catch (error) {
      failures.push(`${where}: threw ${String(error)}`);
      continue;
    }
    if (result.ok) {
      const names = result.manifest.files.map((file) => file.path.normalize("NFC"));
      if (new Set(names).size !== names.length) {
        failures.push(`${where}: accepted one name twice in two unicode forms`);
      }
      for (const file of result.manifest.files) {
        const segments = file.path.split("/");
        if (
          segments[0] !== "b1" || segments.includes("..") || segments.includes(".") ||
          !(await store.head(BUCKET, file.path))
        ) {
          failures.push(`${where}: accepted path ${JSON.stringify(file.path)}`);
        }
      }
      continue;
    }
    if (result.problems.length === 0) failures.push(`${where}: rejected without a problem`);
    for (const problem of result.problems) {
      const message = problem.message;
      if (typeof message !== "string" || message.trim() === "") {
        failures.push(`${where}: empty message`);
        continue;
      }
      for (const [pattern, what] of FORBIDDEN) {
        if (pattern.test(message)) failures.push(`${where}: ${what} in ${JSON.stringify(message)}`);
      }
      if (!message.includes(KEY) && !message.includes("b1")) {
        failures.push(`${where}: names neither the manifest nor the batch: ${message}`);
      }
      if (message.length > 4000) {
        failures.push(`${where}: ${message.length} characters: ${message.slice(0, 200)}...`);
      }
    }
    try {
      await quarantineManifest(store, BUCKET, KEY, result.problems);
    } catch (error) {
      failures.push(`${where}: quarantine threw ${String(error)}`);
    }
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${CASES} cases failed`);
});
