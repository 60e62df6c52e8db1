/**
 * `seedLanding()`: copies files shipped in `sample_data/` into the landing
 * zone, the way the quick start's sample assets (`activity/sample_drops`,
 * `spatial/sample_batch`) need it.
 *
 * Idempotent and careful with users' data: a file already there with the
 * same SHA-256 is left alone; a file of the same key that no sample asset
 * wrote (no `origin: sample_data` metadata) is never overwritten, it is
 * someone's upload. Files are written in the order given, so a manifest
 * listed last is committed only once the files it names are there.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Logger } from "../core/logger.ts";
import type { ObjectStore } from "../resources/object_store/types.ts";

/** Object metadata marking a landing-zone file as a copy of a sample. */
export const SAMPLE_ORIGIN = { origin: "sample_data" } as const;

/** One file to seed. */
export interface SeedFile {
  /** Landing-zone key. */
  key: string;
  /** The shipped file. */
  source: URL;
  /** Content type of the object. */
  contentType?: string;
}

/** What {@linkcode seedLanding} did, by landing key. */
export interface SeedResult {
  /** Written (new, or a changed sample). */
  copied: string[];
  /** Already there with the same content. */
  unchanged: string[];
  /** Left alone: someone else's file under the same key. */
  leftAlone: string[];
}

/** Copies `files` into `bucket` (created if needed); see the module doc for the rules. */
export async function seedLanding(
  lake: ObjectStore,
  bucket: string,
  files: readonly SeedFile[],
  log: Logger,
): Promise<SeedResult> {
  await lake.ensureBucket(bucket);
  const result: SeedResult = { copied: [], unchanged: [], leftAlone: [] };
  for (const file of files) {
    const bytes = await Deno.readFile(file.source);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const head = await lake.head(bucket, file.key);
    if (head?.sha256 === sha256) {
      result.unchanged.push(file.key);
    } else if (head && head.metadata.origin !== SAMPLE_ORIGIN.origin) {
      result.leftAlone.push(file.key);
      log.warn(
        `left ${bucket}/${file.key} alone: it differs from the sample and was not written by ` +
          "a sample asset; delete it to get the sample back",
      );
    } else {
      await lake.put(bucket, file.key, bytes, {
        ...(file.contentType === undefined ? {} : { contentType: file.contentType }),
        metadata: { ...SAMPLE_ORIGIN },
      });
      result.copied.push(file.key);
      log.info(`copied sample ${file.source.pathname.split("/").pop()} to ${bucket}/${file.key}`, {
        bytes: bytes.length,
      });
    }
  }
  return result;
}

/** The names of the files directly in `dir` that `keep` accepts, sorted. */
export async function filesIn(dir: URL, keep: (name: string) => boolean = () => true) {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && keep(entry.name)) names.push(entry.name);
  }
  return names.sort();
}
