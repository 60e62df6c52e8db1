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
import { filesIn, seedLanding } from "../_seed_landing.ts";
import { ACTIVITY_PREFIX } from "./bronze.ts";

/** Key of the asset. */
export const SAMPLE_DROPS_KEY = "activity/sample_drops";

/** The sample drops shipped with the repository. */
export const SAMPLE_ACTIVITY_DIR: URL = new URL("../../sample_data/activity/", import.meta.url);

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
      const names = await filesIn(dir, (name) => name.endsWith(".csv"));
      const seeded = await seedLanding(
        lake,
        config.LANDING_BUCKET,
        names.map((name) => ({
          key: `${ACTIVITY_PREFIX}${name}`,
          source: new URL(name, dir),
          contentType: "text/csv",
        })),
        ctx.log,
      );
      const base = (key: string) => key.slice(ACTIVITY_PREFIX.length);
      return {
        files: names.length,
        copied: seeded.copied.length,
        unchanged: seeded.unchanged.length,
        left_alone: seeded.leftAlone.length,
        copied_files: seeded.copied.map(base),
        sample_data: `${names.length} synthetic Fitbit-style CSV drops (sample_data/activity)`,
      };
    },
  });
}
