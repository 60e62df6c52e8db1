/** The spatial ingestion contract: manifest validation and quarantine. */

import { FakeClock } from "../../../core/testing.ts";
import assert from "node:assert/strict";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import {
  batchIdFromManifestKey,
  type ManifestProblem,
  quarantineManifest,
  validateManifest,
} from "../../../assets/spatial/manifest.ts";

const BUCKET = "landing-zone";
const bytes = (text: string) => new TextEncoder().encode(text);

function manifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    batch_id: "b1",
    uploader: "ana@example.org",
    intent: "publish",
    files: [
      { path: "b1/trailheads.geojson", type: "vector", format: "geojson", crs: "EPSG:4326" },
      { path: "b1/dem.tif", type: "raster", format: "geotiff", crs: "EPSG:32612" },
    ],
    metadata: { project: "montana", description: "Trailheads and a DEM", extra: { a: 1 } },
    ...overrides,
  };
}

async function landing(files: string[] = ["b1/trailheads.geojson", "b1/dem.tif"]) {
  const store = new MemoryObjectStore();
  await store.ensureBucket(BUCKET);
  for (const key of files) await store.put(BUCKET, key, bytes("x"));
  return store;
}

async function commit(store: MemoryObjectStore, body: unknown, key = "manifests/b1.json") {
  await store.put(BUCKET, key, bytes(typeof body === "string" ? body : JSON.stringify(body)));
}

async function problemsOf(body: unknown, files?: string[]): Promise<ManifestProblem[]> {
  await using store = await landing(files);
  await commit(store, body);
  const result = await validateManifest(store, BUCKET, "manifests/b1.json");
  assert.equal(result.ok, false, "the manifest should have been rejected");
  return result.ok ? [] : result.problems;
}

Deno.test("validateManifest accepts a good manifest and returns its etag", async () => {
  await using store = await landing();
  await commit(store, manifest());
  const result = await validateManifest(store, BUCKET, "manifests/b1.json");
  assert.ok(result.ok);
  const head = await store.head(BUCKET, "manifests/b1.json");
  assert.equal(result.etag, head?.etag);
  assert.equal(result.manifest.metadata.project, "montana");
  // Extra metadata fields are kept, not dropped.
  assert.deepEqual(result.manifest.metadata.extra, { a: 1 });
});

Deno.test("validateManifest reports each kind of problem", async (t) => {
  await t.step("malformed JSON", async () => {
    const problems = await problemsOf("{ not json");
    assert.deepEqual(problems.map((p) => p.code), ["malformed_json"]);
    assert.match(problems[0]!.message, /manifests\/b1\.json/);
  });

  await t.step("a UTF-16 manifest or a NUL byte is named as such", async () => {
    // Before: "Expected property name or '}' in JSON at position 1" (UTF-16 without a byte
    // order mark), "The encoded data is not valid" (with one), a JSON syntax error for a NUL.
    const text = JSON.stringify(manifest(), null, 2);
    const utf16le = (bom: boolean) => {
      const out = new Uint8Array((bom ? 2 : 0) + text.length * 2);
      if (bom) out.set([0xff, 0xfe]);
      for (let i = 0; i < text.length; i++) out[(bom ? 2 : 0) + 2 * i] = text.charCodeAt(i);
      return out;
    };
    const nul = bytes(text.replace('"ana@example.org"', '"ana@example.org"\u0000'));
    for (
      const [body, expected] of [
        [utf16le(true), /the file is UTF-16 text \(it starts with a UTF-16 byte order mark\)/],
        [utf16le(false), /the file is UTF-16 text \(every other byte is zero\)/],
        [nul, /line 3 holds a NUL byte \(offset \d+\); remove it/],
      ] as const
    ) {
      await using store = await landing();
      await store.put(BUCKET, "manifests/b1.json", body);
      const result = await validateManifest(store, BUCKET, "manifests/b1.json");
      assert.equal(result.ok, false);
      const problems = result.ok ? [] : result.problems;
      assert.deepEqual(problems.map((p) => p.code), ["malformed_json"]);
      assert.match(problems[0]!.message, expected);
      assert.match(problems[0]!.message, /Commit valid UTF-8 JSON/);
    }
  });

  await t.step("schema errors name the field path", async () => {
    const bad = manifest({
      uploader: "",
      files: [{ path: "b1/dem.tif", type: "raster", format: "geotiff", crs: "4326" }],
    });
    const problems = await problemsOf(bad);
    assert.ok(problems.every((p) => p.code === "invalid_schema"));
    const text = problems.map((p) => p.message).join("\n");
    assert.match(text, /uploader/);
    assert.match(text, /files\[0\]\.crs/);
  });

  await t.step("a vector format on a raster file is a schema error", async () => {
    const bad = manifest({
      files: [{ path: "b1/dem.tif", type: "raster", format: "geojson", crs: "EPSG:4326" }],
    });
    const problems = await problemsOf(bad);
    assert.match(problems[0]!.message, /files\[0\]\.format/);
  });

  await t.step("unknown intent", async () => {
    const problems = await problemsOf(manifest({ intent: "teleport" }));
    assert.deepEqual(problems.map((p) => p.code), ["unknown_intent"]);
    assert.match(problems[0]!.message, /publish/);
  });

  await t.step("batch id differing from the manifest's name", async () => {
    await using store = await landing(["b2/trailheads.geojson"]);
    const body = manifest({
      batch_id: "b2",
      files: [{
        path: "b2/trailheads.geojson",
        type: "vector",
        format: "geojson",
        crs: "EPSG:4326",
      }],
    });
    await commit(store, body);
    const result = await validateManifest(store, BUCKET, "manifests/b1.json");
    assert.ok(!result.ok);
    assert.deepEqual(result.problems.map((p) => p.code), ["batch_id_mismatch"]);
    assert.equal(result.batchId, "b2");
  });

  await t.step("missing file and missing Shapefile sidecar", async () => {
    const body = manifest({
      files: [
        { path: "b1/gone.geojson", type: "vector", format: "geojson", crs: "EPSG:4326" },
        { path: "b1/counties.shp", type: "vector", format: "shapefile", crs: "EPSG:4326" },
      ],
    });
    const problems = await problemsOf(body, ["b1/counties.shp", "b1/counties.SHX"]);
    assert.deepEqual(problems.map((p) => [p.code, p.file]), [
      ["missing_file", "b1/gone.geojson"],
      ["missing_sidecar", "b1/counties.shp"],
    ]);
    assert.match(problems[1]!.message, /\.dbf/);
  });
});

Deno.test("validateManifest keeps paths inside the batch and the landing zone", async (t) => {
  const cases: [string, string][] = [
    ["b1/../b2/x.geojson", "path_outside_landing_zone"],
    ["../outside.geojson", "path_outside_landing_zone"],
    ["/etc/passwd", "path_outside_landing_zone"],
    ["b1\\..\\x.geojson", "path_outside_landing_zone"],
    ["s3://other-bucket/x.geojson", "path_outside_landing_zone"],
    ["b1//x.geojson", "path_outside_landing_zone"],
    // A right-to-left override: the key reads 'b1/exe.nosjoeg' (accepted before).
    ["b1/\u202egeojson.exe", "path_outside_landing_zone"],
    ["b1/a\u200b.geojson", "path_outside_landing_zone"],
    ["b2/x.geojson", "path_outside_batch"],
    ["x.geojson", "path_outside_batch"],
    ["b10/x.geojson", "path_outside_batch"],
  ];
  for (const [path, code] of cases) {
    await t.step(`${path} -> ${code}`, async () => {
      const body = manifest({
        files: [{ path, type: "vector", format: "geojson", crs: "EPSG:4326" }],
      });
      const problems = await problemsOf(body);
      assert.deepEqual(problems.map((p) => [p.code, p.file]), [[code, path]]);
      assert.match(problems[0]!.message, /files\[0\]\.path/);
      if (path.includes("\u202e")) {
        assert.match(problems[0]!.message, /invisible formatting character U\+202E; remove it/);
      }
    });
  }
});

Deno.test("quarantineManifest moves the manifest beside its error report", async () => {
  await using store = await landing();
  await commit(store, manifest({ intent: "teleport" }));
  const result = await validateManifest(store, BUCKET, "manifests/b1.json");
  assert.ok(!result.ok);
  const moved = await quarantineManifest(store, BUCKET, "manifests/b1.json", result.problems, {
    clock: new FakeClock(Date.parse("2026-01-02T03:04:05Z")),
  });
  assert.deepEqual(moved, {
    manifestKey: "quarantine/b1.json",
    reportKey: "quarantine/b1.error.json",
  });
  assert.equal(await store.head(BUCKET, "manifests/b1.json"), undefined);
  assert.ok(await store.head(BUCKET, "quarantine/b1.json"));
  const report = JSON.parse(
    new TextDecoder().decode(await store.getBytes(BUCKET, "quarantine/b1.error.json")),
  );
  assert.equal(report.quarantined_at, "2026-01-02T03:04:05.000Z");
  assert.equal(report.problems[0].code, "unknown_intent");
  // The uploaded files stay where they are.
  assert.ok(await store.head(BUCKET, "b1/trailheads.geojson"));
  // Repeating is safe.
  await quarantineManifest(store, BUCKET, "manifests/b1.json", result.problems);
});

Deno.test("batchIdFromManifestKey only accepts manifests/<batch_id>.json", () => {
  assert.equal(batchIdFromManifestKey("manifests/b1.json"), "b1");
  assert.equal(batchIdFromManifestKey("manifests/B1.json"), undefined);
  assert.equal(batchIdFromManifestKey("manifests/sub/b1.json"), undefined);
  assert.equal(batchIdFromManifestKey("manifests/archive.json"), undefined);
  assert.equal(batchIdFromManifestKey("b1/x.json"), undefined);
});

Deno.test("validateManifest: a misspelt key is refused naming what was meant, never ignored", async (t) => {
  await t.step("an unknown top-level or file key suggests the known one", async () => {
    const body = manifest({ intnet: "publish" });
    delete body.intent;
    const files = (body.files as Record<string, unknown>[]).map((f) => ({ ...f }));
    files[0] = { ...files[0], crss: files[0]!.crs };
    delete files[0]!.crs;
    body.files = files;
    const text = (await problemsOf(body)).map((p) => p.message).join("\n");
    assert.match(text, /intent is missing/);
    assert.match(text, /\(root\) has unknown key\(s\) 'intnet' \(did you mean 'intent'\?\)/);
    assert.match(text, /files\[0\] has unknown key\(s\) 'crss' \(did you mean 'crs'\?\)/);
    assert.match(text, /files\[0\]\.crs is missing \(required\)/);
  });

  await t.step(
    "an unknown key with control characters is named escaped, a very long one clipped",
    async () => {
      // Before: the DEL of 'batch\x7fid' (manifest fuzz, seed 11, case 2703) was printed raw.
      const body = manifest({ "batch\u007fid": "b1", "x\u001b[2J": 1, ["k".repeat(5000)]: 1 });
      const text = (await problemsOf(body)).map((p) => p.message).join("\n");
      assert.match(text, /'batch\\u007fid' \(did you mean 'batch_id'\?\)/);
      assert.match(text, /'x\\u001b\[2J'/);
      assert.match(text, /'k{100}\.\.\. \(5000 characters\)'/);
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f]/);
    },
  );

  await t.step("a metadata key spelt like one the platform reads is refused", async () => {
    const cases: [string, string][] = [["license", "licence"], ["Title", "title"], [
      "titel",
      "title",
    ]];
    for (const [key, meant] of cases) {
      const body = manifest();
      body.metadata = { ...(body.metadata as object), [key]: "x" };
      const problems = await problemsOf(body);
      assert.deepEqual(problems.map((p) => p.code), ["invalid_schema"], key);
      assert.match(problems[0]!.message, new RegExp(`metadata\\.${key} .*'${meant}'`));
    }
  });

  await t.step("free metadata fields of other names are still kept", async () => {
    await using store = await landing();
    const body = manifest();
    body.metadata = { ...(body.metadata as object), tile: "x", source: "y", extra: 1 };
    await commit(store, body);
    assert.ok((await validateManifest(store, BUCKET, "manifests/b1.json")).ok);
  });
});

Deno.test("validateManifest: a file uploaded under another spelling of its name says so", async (t) => {
  const nfc = "b1/caf\u00e9.geojson", nfd = "b1/cafe\u0301.geojson";
  await t.step("accents composed differently (macOS NFD vs NFC): they look the same", async () => {
    const body = manifest({
      files: [{ path: nfd, type: "vector", format: "geojson", crs: "EPSG:4326" }],
    });
    const [problem] = await problemsOf(body, [nfc]);
    assert.equal(problem?.code, "missing_file");
    assert.match(problem!.message, /decomposed \(NFD\)/);
    assert.ok(problem!.message.includes(`'${nfc}' was uploaded`));
  });
  await t.step("percent-encoded as in a URL", async () => {
    // Before: only 'upload it before committing the manifest', though it was uploaded.
    const body = manifest({
      files: [{
        path: "b1/my%20roads%C3%A9.geojson",
        type: "vector",
        format: "geojson",
        crs: "EPSG:4326",
      }],
    });
    const [problem] = await problemsOf(body, ["b1/my roads\u00e9.geojson"]);
    assert.equal(problem?.code, "missing_file");
    assert.match(
      problem!.message,
      /'b1\/my roads\u00e9\.geojson' was uploaded: the manifest's path is percent-encoded \(as in a URL\)/,
    );
  });
  await t.step("letter case", async () => {
    const body = manifest({
      files: [{ path: "b1/Roads.geojson", type: "vector", format: "geojson", crs: "EPSG:4326" }],
    });
    const [problem] = await problemsOf(body, ["b1/roads.geojson"]);
    assert.equal(problem?.code, "missing_file");
    assert.match(
      problem!.message,
      /'b1\/roads\.geojson' was uploaded, whose name differs in letter case/,
    );
  });
});

Deno.test("validateManifest: a .gdb folder uploaded as its files is taken; another folder is refused at once, saying to zip it", async () => {
  // Before: missing_file, 'upload it before committing the manifest', though it was
  // uploaded, and the manifest sensor waited MANIFEST_FILE_WAIT_MS for it in vain.
  const gdb = ["a00000001.gdbtable", "a00000001.gdbtablx", "gdb"].map((n) => `b1/parcels.gdb/${n}`);
  for (const format of ["gdal:OpenFileGDB", "filegdb"]) {
    const body = manifest({
      files: [{ path: "b1/parcels.gdb", type: "vector", format, crs: "EPSG:4326" }],
    });
    await using store = await landing(gdb);
    await commit(store, body);
    const result = await validateManifest(store, BUCKET, "manifests/b1.json");
    assert.ok(result.ok, `${format}: ${JSON.stringify(result.ok ? [] : result.problems)}`);
  }
  const body = manifest({
    files: [{ path: "b1/parcels.gdb", type: "vector", format: "geopackage", crs: "EPSG:4326" }],
  });
  const [problem] = await problemsOf(body, gdb);
  assert.equal(problem?.code, "content_mismatch");
  assert.match(
    problem!.message,
    /'b1\/parcels\.gdb' of batch 'b1' is a folder of 3 files .*zip -r parcels\.gdb\.zip parcels\.gdb.*declared format filegdb or gdal:OpenFileGDB/,
  );
});

Deno.test("validateManifest: a key written twice in one object is refused naming it and its line", async () => {
  // Before: JSON.parse kept the last value silently and the batch ran with it.
  const good = JSON.stringify(manifest(), null, 2);
  const cases: [string, string, number][] = [
    // The batch id given twice: which one did the uploader mean?
    [good.replace('"batch_id": "b1",', '"batch_id": "b1",\n  "batch_id": "b2",'), "batch_id", 3],
    // A file's path twice, the second leaving the batch.
    [
      good.replace('"path": "b1/dem.tif",', '"path": "b1/dem.tif", "path": "../etc/dem.tif",'),
      "path",
      13,
    ],
    // The same key spelled with an escape.
    [
      good.replace('"intent": "publish",', '"intent": "publish", "int\\u0065nt": "measure",'),
      "intent",
      4,
    ],
  ];
  for (const [text, key, line] of cases) {
    const problems = await problemsOf(text);
    assert.deepEqual(problems.map((p) => p.code), ["malformed_json"], text);
    assert.equal(
      problems[0]!.message,
      `Cannot parse manifest 'manifests/b1.json': key '${key}' appears twice in one object ` +
        `(line ${line}); JSON readers keep only one of them, so which value counts is unclear. ` +
        "Remove the other and commit it again.",
    );
  }
  // The same key in two different objects is fine.
  await using store = await landing();
  await commit(store, good);
  assert.ok((await validateManifest(store, BUCKET, "manifests/b1.json")).ok);
});

Deno.test("validateManifest: one file name listed twice in two unicode forms (NFC and NFD) is refused naming both; names differing in case are two files", async () => {
  // Before: both uploads were accepted and published as 'caf_' and 'caf__geojson'.
  const nfc = "b1/caf\u00e9.geojson", nfd = "b1/cafe\u0301.geojson";
  const files = (paths: string[]) =>
    paths.map((path) => ({ path, type: "vector", format: "geojson", crs: "EPSG:4326" }));
  const problems = await problemsOf(manifest({ files: files([nfc, nfd]) }), [nfc, nfd]);
  assert.deepEqual(problems.map((p) => p.code), ["duplicate_path"]);
  assert.equal(
    problems[0]!.message,
    `Cannot load manifest 'manifests/b1.json': files[1].path '${nfd}' and files[0].path ` +
      `'${nfc}' are one name written two ways (one with composed accents, NFC, the other ` +
      "decomposed, NFD, as macOS writes names): they look the same everywhere. Keep one: list " +
      "it once and delete the other upload.",
  );
  // S3 keys are case-sensitive: Roads and roads are two uploads, published under two names.
  await using store = await landing(["b1/Roads.geojson", "b1/roads.geojson"]);
  await commit(store, manifest({ files: files(["b1/Roads.geojson", "b1/roads.geojson"]) }));
  assert.ok((await validateManifest(store, BUCKET, "manifests/b1.json")).ok);
});
