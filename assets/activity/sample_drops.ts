/**
 * `activity/sample_drops`: the quick start's activity input. Copies the
 * synthetic drops in `sample_data/activity/*.csv` into
 * `landing-zone/activity/`, so `bronze_activity` has files to load on a fresh
 * machine.
 *
 * Idempotent: a file already there with the same SHA-256 is left alone. A
 * file of the same name that this asset did not write (no `origin:
 * sample_data` metadata) is never overwritten: it is someone's drop.
 *
 * @module
 */

import { asset } from "../_define.ts";
import { sha256Hex } from "./_checksum.ts";
import { ACTIVITY_PREFIX } from "./bronze.ts";

/** Key of the asset. */
export const SAMPLE_DROPS_KEY = "activity/sample_drops";

/** The sample drops shipped with the repository. */
export const SAMPLE_ACTIVITY_DIR: URL = new URL("../../sample_data/activity/", import.meta.url);

/** Object metadata marking a landing-zone file as a copy of a sample. */
const ORIGIN = { origin: "sample_data" } as const;

/** Options of {@linkcode sampleDropsAsset}. */
export interface SampleDropsOptions {
  /**
   * Folder holding the `*.csv` samples.
   * @default {SAMPLE_ACTIVITY_DIR}
   */
  dir?: URL;
}

/** Builds the `activity/sample_drops` asset. */
export function sampleDropsAsset(options: SampleDropsOptions = {}) {
  const dir = options.dir ?? SAMPLE_ACTIVITY_DIR;
  return asset({
    key: SAMPLE_DROPS_KEY,
    group: "activity",
    tags: ["sample"],
    description: "Copies the synthetic activity drops of sample_data/activity/ into " +
      "landing-zone/activity/ (quick start; only when SAMPLE_DATA is on)",
    resources: ["config", "lake"],
    codeVersion: "1",
    materialize: async (ctx) => {
      const { config, lake } = ctx.resources;
      const bucket = config.LANDING_BUCKET;
      await lake.ensureBucket(bucket);
      const names: string[] = [];
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isFile && entry.name.endsWith(".csv")) names.push(entry.name);
      }
      names.sort();
      const copied: string[] = [];
      const unchanged: string[] = [];
      const left: string[] = [];
      for (const name of names) {
        const key = `${ACTIVITY_PREFIX}${name}`;
        const bytes = await Deno.readFile(new URL(name, dir));
        const sha256 = sha256Hex(bytes);
        const head = await lake.head(bucket, key);
        if (head?.sha256 === sha256) {
          unchanged.push(name);
        } else if (head && head.metadata.origin !== ORIGIN.origin) {
          left.push(name);
          ctx.log.warn(
            `left ${bucket}/${key} alone: it differs from the sample and was not written by ` +
              "this asset; delete it to get the sample back",
          );
        } else {
          await lake.put(bucket, key, bytes, { contentType: "text/csv", metadata: { ...ORIGIN } });
          copied.push(name);
          ctx.log.info(`copied sample ${name} to ${bucket}/${key}`, { bytes: bytes.length });
        }
      }
      return {
        files: names.length,
        copied: copied.length,
        unchanged: unchanged.length,
        left_alone: left.length,
        copied_files: copied,
      };
    },
  });
}
