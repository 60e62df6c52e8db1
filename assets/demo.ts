/**
 * A small demo pipeline over the trail towns in `sample_data/demo/`, so the
 * quick start does real work on embedded defaults: it reads the CSV, writes
 * JSON objects to the lake, and derives distances and nearest neighbours.
 * The real pipelines replace it.
 *
 * @module
 */

import { dailyPartitions, type Metadata } from "../core/mod.ts";
import type { ObjectStore } from "../resources/object_store/types.ts";
import { asset } from "./_define.ts";

const BUCKET = "data-lake";
const PLACES_CSV = new URL("../sample_data/demo/places.csv", import.meta.url);

/** One row of the places file. */
export interface Place {
  readonly name: string;
  readonly state: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly elevation_m: number;
}

/** Parses the places CSV; throws naming the line and column of a bad value. */
export function parsePlaces(text: string): Place[] {
  const [header = "", ...lines] = text.trim().split(/\r?\n/);
  const columns = header.split(",");
  const expected = ["name", "state", "latitude", "longitude", "elevation_m"];
  if (columns.join(",") !== expected.join(",")) {
    throw new Error(`places.csv: header must be '${expected.join(",")}', got '${header}'`);
  }
  return lines.map((line, i) => {
    const [name = "", state = "", lat, lon, elevation] = line.split(",");
    const number = (value: string | undefined, column: string, min: number, max: number) => {
      const parsed = Number(value);
      if (value === undefined || value === "" || !(parsed >= min && parsed <= max)) {
        throw new Error(`places.csv line ${i + 2}, column ${column}: '${value ?? ""}' is not a number in [${min}, ${max}]`);
      }
      return parsed;
    };
    return {
      name,
      state,
      latitude: number(lat, "latitude", -90, 90),
      longitude: number(lon, "longitude", -180, 180),
      elevation_m: number(elevation, "elevation_m", -500, 9000),
    };
  });
}

/** Great-circle distance in kilometres (haversine, mean Earth radius). */
export function distanceKm(a: Place, b: Place): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.sqrt(h));
}

async function putJson(lake: ObjectStore, key: string, value: unknown): Promise<Metadata> {
  await lake.ensureBucket(BUCKET);
  const body = new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");
  const { sha256, size } = await lake.put(BUCKET, key, body, { contentType: "application/json" });
  return { bucket: BUCKET, key, sha256, bytes: size };
}

async function getJson<T>(lake: ObjectStore, key: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await lake.getBytes(BUCKET, key))) as T;
}

/** The places, validated, as JSON in the lake. */
export const places = asset({
  key: "demo/places",
  group: "demo",
  tags: ["sample"],
  description: "Trail towns from sample_data/demo/places.csv, validated, as JSON in the lake",
  resources: ["lake"],
  codeVersion: "1",
  checks: [{
    name: "unique_names",
    description: "No two places share a name",
    blocking: true,
    run: async (ctx) => {
      const list = await getJson<Place[]>(ctx.resources.lake, "demo/places.json");
      const names = list.map((p) => p.name);
      const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
      return { passed: duplicates.length === 0, metadata: { duplicates }, description: `duplicate names: ${duplicates.join(", ")}` };
    },
  }],
  materialize: async (ctx) => {
    const list = parsePlaces(await Deno.readTextFile(PLACES_CSV));
    ctx.log.info(`read ${list.length} places`);
    return { rows: list.length, ...(await putJson(ctx.resources.lake, "demo/places.json", list)) };
  },
});

/** Distance between every pair of places. */
export const distances = asset({
  key: "demo/distances",
  deps: ["demo/places"],
  group: "demo",
  description: "Great-circle distance in km between every pair of places",
  resources: ["lake"],
  codeVersion: "1",
  materialize: async (ctx) => {
    const list = await getJson<Place[]>(ctx.resources.lake, "demo/places.json");
    const pairs = list.flatMap((a, i) =>
      list.slice(i + 1).map((b) => ({ from: a.name, to: b.name, km: Math.round(distanceKm(a, b) * 10) / 10 }))
    );
    const longest = pairs.reduce((max, p) => Math.max(max, p.km), 0);
    return { pairs: pairs.length, longest_km: longest, ...(await putJson(ctx.resources.lake, "demo/distances.json", pairs)) };
  },
});

/** Each place's nearest neighbour. */
export const nearest = asset({
  key: "demo/nearest_neighbours",
  deps: ["demo/distances"],
  group: "demo",
  description: "Each place with its nearest neighbour and the distance to it",
  resources: ["lake"],
  codeVersion: "1",
  checks: [{
    name: "every_place_has_a_neighbour",
    description: "The nearest-neighbour table has one row per place",
    run: async (ctx) => {
      const rows = await getJson<unknown[]>(ctx.resources.lake, "demo/nearest_neighbours.json");
      const all = await getJson<Place[]>(ctx.resources.lake, "demo/places.json");
      return {
        passed: rows.length === all.length,
        metadata: { rows: rows.length, places: all.length },
        description: `${rows.length} rows for ${all.length} places`,
      };
    },
  }],
  materialize: async (ctx) => {
    const pairs = await getJson<{ from: string; to: string; km: number }[]>(ctx.resources.lake, "demo/distances.json");
    const best = new Map<string, { neighbour: string; km: number }>();
    for (const { from, to, km } of pairs) {
      for (const [a, b] of [[from, to], [to, from]] as const) {
        if (!best.has(a) || km < (best.get(a)?.km ?? Infinity)) best.set(a, { neighbour: b, km });
      }
    }
    const rows = [...best].map(([place, n]) => ({ place, ...n }));
    return { rows: rows.length, ...(await putJson(ctx.resources.lake, "demo/nearest_neighbours.json", rows)) };
  },
});

/** A daily partitioned asset: a note per day, written once per partition. */
export const dailyNote = asset({
  key: "demo/daily_note",
  group: "demo",
  description: "One small JSON note per UTC day, to show daily partitions and backfills",
  partitions: dailyPartitions("2026-11-01", { endOffset: 1 }),
  dependsOnPast: true,
  resources: ["lake"],
  materialize: async (ctx) => {
    const day = ctx.partitionKey as string;
    const key = `demo/daily_note/${day.replaceAll("-", "/")}.json`;
    return { day, ...(await putJson(ctx.resources.lake, key, { day, run_id: ctx.runId })) };
  },
});

/** Every demo asset. */
export const demoAssets = [places, distances, nearest, dailyNote];
