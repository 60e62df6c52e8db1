/**
 * Batches of generated files through the spatial assets, for the tests of
 * real-world inputs (inputs_test.ts, real_world_test.ts): a memory landing
 * zone holding the uploads and their manifest, and the two end states a
 * batch may reach (done and archived, or quarantined with nothing published).
 */

import assert from "node:assert/strict";
import { pendingForNative } from "../../../assets/spatial/pending.ts";
import { parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import type { RunResult } from "../../../core/executor.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import type { LedgerDocument } from "../../../resources/ledger/schema.ts";
import type { ManifestProblem } from "../../../assets/spatial/manifest.ts";
import { type GdalEngine, GdalError, type GdalOps } from "../../../resources/spatial/gdal.ts";
import { nativeGdal, nativeGdalVersion } from "../../../resources/spatial/gdal_native.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { download, LAKE, LANDING, runBatch } from "./_fixtures.ts";

/** The version of the machine's libgdal, when the native engine can run here. */
export const NATIVE = await nativeGdalVersion();

/** Runs a command that must succeed (Debian's GDAL tools make the test data). */
export async function sh(cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args }).output();
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A file of a batch. */
export interface Upload {
  /** File name inside the batch folder. */
  name: string;
  /** Local file to upload. */
  from: string;
  type: "vector" | "raster";
  format: string;
  crs: string;
  open_options?: string[];
}

/** A memory landing zone holding `uploads` (and any extra sidecar files) under `batch`. */
export async function landing(batch: string, uploads: Upload[], extra: [string, string][] = []) {
  const store = new MemoryObjectStore();
  await store.ensureBucket(LANDING);
  for (const u of uploads) {
    await store.put(LANDING, `${batch}/${u.name}`, await Deno.readFile(u.from));
  }
  for (const [name, from] of extra) {
    await store.put(LANDING, `${batch}/${name}`, await Deno.readFile(from));
  }
  const manifest = {
    batch_id: batch,
    uploader: "tests@example.org",
    intent: "publish",
    files: uploads.map(({ name, from: _from, ...rest }) => ({ path: `${batch}/${name}`, ...rest })),
    metadata: { project: "inputs", description: "generated test data" },
  };
  await store.put(
    LANDING,
    `manifests/${batch}.json`,
    new TextEncoder().encode(JSON.stringify(manifest)),
  );
  return { store, ledger: new MemoryLedger() };
}

/** A landing zone made by {@linkcode landing}. */
export type Landing = Awaited<ReturnType<typeof landing>>;

/** Step status by asset key. */
export function statusOf(result: RunResult) {
  return Object.fromEntries(result.steps.map((s) => [s.assetKey, s.status]));
}

/** The quarantine report of `batch`. */
export async function report(l: Landing, batch: string) {
  const bytes = await l.store.getBytes(LANDING, `quarantine/${batch}.error.json`);
  return JSON.parse(new TextDecoder().decode(bytes)) as {
    problems: { code: string; message: string; file?: string }[];
  };
}

/** Asserts the batch was quarantined with nothing in the lake; returns its problems. */
export async function assertQuarantined(l: Landing, batch: string, result: RunResult) {
  assert.equal(result.status, "failed");
  assert.equal(statusOf(result)["spatial/batch_archive"], "skipped");
  assert.equal(await l.store.head(LANDING, `manifests/${batch}.json`), undefined);
  assert.ok(await l.store.head(LANDING, `quarantine/${batch}.json`));
  const lake = await Array.fromAsync(l.store.listAll(LAKE)).catch(() => []);
  assert.deepEqual(lake, [], "nothing may stay published");
  assert.deepEqual(await l.ledger.findByBatch(batch), []);
  const { problems } = await report(l, batch);
  for (const p of problems) {
    assert.doesNotMatch(
      p.message,
      /\[object Object\]|Pointer '\w+' is NULL|\/output\/job-|in\d+\//,
    );
  }
  return problems;
}

/** Runs `batch` on `gdal` and asserts it was quarantined ({@linkcode assertQuarantined}); returns its problems. */
export async function runQuarantined(l: Landing, batch: string, gdal: GdalEngine) {
  return await assertQuarantined(l, batch, await runBatch(l, batch, {}, { gdal }));
}

/**
 * Asserts the batch failed only for codecs or drivers the wasm build lacks:
 * nothing published or recorded, nothing quarantined, every landing file and
 * the manifest still where the user put them (a native run publishes them);
 * returns the problems, each naming its file and the remedy.
 */
export async function assertPendingForNative(l: Landing, batch: string, result: RunResult) {
  assert.equal(result.status, "failed");
  assert.equal(statusOf(result)["spatial/batch_archive"], "skipped");
  assert.ok(await l.store.head(LANDING, `manifests/${batch}.json`), "the manifest stays committed");
  assert.equal(await l.store.head(LANDING, `quarantine/${batch}.json`), undefined);
  assert.equal(await l.store.head(LANDING, `quarantine/${batch}.error.json`), undefined);
  const lake = await Array.fromAsync(l.store.listAll(LAKE)).catch(() => []);
  assert.deepEqual(lake, [], "nothing may stay published");
  assert.deepEqual(await l.ledger.findByBatch(batch), []);
  const failed = result.steps.find((s) => s.status === "failed")!;
  const error = failed.error as Error & { code?: string; problems?: ManifestProblem[] };
  assert.equal(error.code, "spatial.codec_missing", error.message);
  assert.match(error.message, /GDAL_ENGINE=native.*not quarantined/s);
  const problems = error.problems ?? [];
  assert.ok(problems.length > 0 && problems.every((p) => p.code === "codec_missing"));
  for (const p of problems) assert.match(p.message, /gdal3\.js.*GDAL_ENGINE=native/);
  // The note the manifest sensor reads to run the batch once a daemon has native GDAL.
  const manifest = await l.store.head(LANDING, `manifests/${batch}.json`);
  const note = await pendingForNative(l.store, LANDING, batch, manifest!.etag);
  assert.ok(note, "a note says the batch waits for the native engine");
  assert.deepEqual(note.problems.map((p) => p.file), problems.map((p) => p.file));
  return problems;
}

/** Asserts the batch succeeded and was archived; returns the ledger documents. */
export async function assertDone(l: Landing, batch: string, result: RunResult) {
  assert.equal(result.status, "success", result.errorSummary ?? JSON.stringify(statusOf(result)));
  assert.ok(await l.store.head(LANDING, `archive/${batch}/manifest.json`));
  return await l.ledger.findByBatch(batch);
}

/** The GDAL engines reachable here: gdal3.js, and the native one when libgdal loads. */
export const engines: [string, GdalEngine][] = [["wasm", wasmGdal]];
if (NATIVE) engines.push(["native", nativeGdal(NATIVE)]);

/** A GeoJSON geometry as the readers give it. */
export type Geometry = { type: string; coordinates?: unknown; geometries?: Geometry[] } | null;
/** A feature: its attributes and geometry. */
export type Feature = { properties: Record<string, unknown>; geometry: Geometry };

/** The features of our GeoParquet output `key` (hyparquet decodes its WKB to GeoJSON). */
export async function ourFeatures(l: Landing, key: string): Promise<Feature[]> {
  await using local = await download(l.store, LAKE, key);
  const bytes = await Deno.readFile(local.file);
  const file = bytes.buffer as ArrayBuffer;
  const metadata = await parquetMetadataAsync(file);
  // Bytes columns (OGR binary fields) as bytes: text columns carry the UTF-8 annotation.
  const rows = await parquetReadObjects({ file, metadata, compressors, utf8: false });
  return rows.map((row) => {
    const { geometry, bbox: _bbox, ...properties } = row as Record<string, unknown>;
    return { properties, geometry: (geometry ?? null) as Geometry };
  });
}

/** Native GDAL's conversion of `source` (as our pipeline asks for it) as GeoJSON features. */
export async function nativeFeatures(
  dir: string,
  source: string,
  options: {
    layer?: string;
    makeValid?: boolean;
    openOptions?: readonly string[];
    /** The CRS of a source that has none (ogr2ogr -s_srs). */
    sourceCrs?: string;
  } = {},
): Promise<Feature[]> {
  const out = `${dir}/native-${crypto.randomUUID()}.geojson`;
  await sh(
    "ogr2ogr",
    "-f",
    "GeoJSON",
    "-t_srs",
    "EPSG:4326",
    "-lco",
    "COORDINATE_PRECISION=15",
    ...(options.makeValid === false ? [] : ["-makevalid"]),
    ...(options.openOptions ?? []).flatMap((o) => ["-oo", o]),
    ...(options.sourceCrs ? ["-s_srs", options.sourceCrs] : []),
    out,
    source,
    ...(options.layer ? [options.layer] : []),
  );
  return (JSON.parse(await Deno.readTextFile(out)) as { features: Feature[] }).features;
}

/** Flattens a GeoJSON geometry into [type, numbers] for a comparison within a tolerance. */
export function shape(geometry: Geometry): [string, number[]] {
  if (geometry === null) return ["null", []];
  const numbers: number[] = [];
  const walk = (value: unknown) => {
    if (typeof value === "number") numbers.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
  };
  walk(geometry.coordinates);
  const types = [geometry.type];
  for (const part of geometry.geometries ?? []) {
    const [t, n] = shape(part);
    types.push(t);
    numbers.push(...n);
  }
  return [types.join(","), numbers];
}

/** Asserts our features equal native GDAL's: same order, attributes, geometry types, coordinates. */
export function assertSameFeatures(ours: Feature[], native: Feature[], label: string) {
  assert.equal(ours.length, native.length, `${label}: feature count`);
  ours.forEach((feature, i) => {
    const expected = native[i]!;
    for (const [name, value] of Object.entries(expected.properties)) {
      const got = feature.properties[name];
      assert.equal(
        typeof got === "bigint" ? Number(got) : got,
        value,
        `${label}: feature ${i} attribute '${name}'`,
      );
    }
    const [ourType, ourCoords] = shape(feature.geometry);
    const [nativeType, nativeCoords] = shape(expected.geometry);
    assert.equal(ourType, nativeType, `${label}: feature ${i} geometry type`);
    assert.equal(ourCoords.length, nativeCoords.length, `${label}: feature ${i} vertices`);
    ourCoords.forEach((c, k) =>
      assert.ok(
        Math.abs(c - nativeCoords[k]!) <= 1e-9,
        `${label}: feature ${i} coordinate ${k}: ${c} vs ${nativeCoords[k]}`,
      )
    );
  });
}

/** `gdalinfo -json -checksum` of a local file, through the gdal-bin tools. */
export async function gdalinfo(file: string): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("gdalinfo", { args: ["-json", "-checksum", file] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** What must agree between our COG and native GDAL's. */
export function rasterFacts(info: Record<string, unknown>) {
  const bands = info.bands as {
    type: string;
    noDataValue?: number;
    checksum: number;
    colorInterpretation?: string;
  }[];
  return {
    size: info.size,
    geoTransform: info.geoTransform,
    wkt: (info.coordinateSystem as { wkt?: string } | undefined)?.wkt,
    bands: bands.map((b) => [b.type, b.noDataValue ?? null, b.checksum]),
    layout: (info.metadata as Record<string, Record<string, string>>)["IMAGE_STRUCTURE"]?.LAYOUT,
  };
}

/** The ledger document of the output named `name` (the key's last part), failing the test when none is. */
export function docNamed(docs: LedgerDocument[], name: string): LedgerDocument {
  const doc = docs.find((d) => d.key.endsWith(`/${name}`));
  assert.ok(doc, `no output ${name} among ${docs.map((d) => d.key).join(", ")}`);
  return doc;
}

type Ogr2ogr = GdalOps["ogr2ogr"];

/** `engine` whose scratches' ogr2ogr calls go through `wrap`, which is handed the real call. */
function wrappingOgr2ogr(
  engine: GdalEngine,
  wrap: (ogr2ogr: Ogr2ogr, ...args: Parameters<Ogr2ogr>) => ReturnType<Ogr2ogr>,
  withoutArrow = false,
): GdalEngine {
  return {
    ...engine,
    async createScratch() {
      const scratch = await engine.createScratch();
      const { arrowDump, ...gdal }: GdalOps = scratch.gdal;
      return {
        ...scratch,
        gdal: {
          ...gdal,
          ...(arrowDump && !withoutArrow ? { arrowDump } : {}),
          ogr2ogr: (...args) => wrap(gdal.ogr2ogr.bind(scratch.gdal), ...args),
        },
      };
    },
  };
}

/**
 * `engine` with `watch` told of each ogr2ogr call (its options and output
 * name) as the call starts.
 */
export function watchingOgr2ogr(
  engine: GdalEngine,
  watch: (options: readonly string[], outputName: string) => void,
): GdalEngine {
  return wrappingOgr2ogr(engine, (ogr2ogr, file, options, outputName, open) => {
    const call = ogr2ogr(file, options, outputName, open);
    watch(options, outputName);
    return call;
  });
}

/**
 * `engine` whose FlatGeobuf conversions fail as GDAL fails on a feature
 * whose type is not its layer's, and without GDAL's Arrow stream, which
 * sends each layer of the native engine to the GeoPackage route
 * (assets/spatial/vector.ts).
 */
export function refusingFlatGeobuf(engine: GdalEngine): GdalEngine {
  return wrappingOgr2ogr(engine, (ogr2ogr, file, options, outputName, open) => {
    if (options[options.indexOf("-f") + 1] !== "FlatGeobuf") {
      return ogr2ogr(file, options, outputName, open);
    }
    return Promise.reject(
      new GdalError("spatial.gdal_failed", "refused by the test", {
        gdalMessage: "ICreateFeature: Mismatched geometry type",
      }),
    );
  }, true);
}

/** A landing zone holding the Shapefile `dir/name.shp` (EPSG:4326) and its `sidecars` under batch `name`. */
export function shapefileLanding(dir: string, name: string, sidecars: readonly string[]) {
  const uploads = [{
    name: `${name}.shp`,
    from: `${dir}/${name}.shp`,
    type: "vector" as const,
    format: "shapefile",
    crs: "EPSG:4326",
  }];
  return landing(
    name,
    uploads,
    sidecars.map((e): [string, string] => [`${name}.${e}`, `${dir}/${name}.${e}`]),
  );
}
