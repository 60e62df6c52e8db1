/**
 * Batches waiting for the native GDAL engine. A batch whose only problem is
 * a codec or driver the wasm build (gdal3.js) lacks is not at fault: its run
 * fails with `spatial.codec_missing` and the batch stays in the landing zone.
 * Retrying it on gdal3.js would fail the same way, while the moment a daemon
 * with native GDAL runs (GDAL installed and the daemon restarted, or another
 * daemon that has it) it should be retried at once, not after the growing
 * wait of a platform fault's retries.
 *
 * The run leaves a note saying so, `manifests/pending/<batch>.json` (beside
 * the manifests, where a person looks; the manifest sensor lists only the
 * `.json` files directly under `manifests/`), naming the manifest content
 * (etag) it is about, the files and why. The manifest sensor reads it for a
 * failed batch: on wasm it waits (saying why, once), on native it requests
 * the next attempt at once. A note about older content is ignored; the
 * archive of the batch and its quarantine remove it.
 *
 * @module
 */

import { z } from "zod";
import type { Clock } from "../../core/clock.ts";
import { PlatformError } from "../../core/errors.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import { MANIFESTS_PREFIX } from "./manifest.ts";

/** Folder of the notes, under `manifests/`. */
export const PENDING_PREFIX = `${MANIFESTS_PREFIX}pending/`;

/** The note of a batch waiting for the native engine. */
export const PendingForNative = z.object({
  batch_id: z.string(),
  /** Etag of the committed manifest whose run found the missing codecs. */
  manifest_etag: z.string(),
  /** The run that found them. */
  run_id: z.string(),
  noted_at: z.string(),
  /** Each file and what the wasm build lacks for it. */
  problems: z.array(z.object({ file: z.string().optional(), message: z.string() })),
});

/** The note of a batch waiting for the native engine, as stored. */
export type PendingForNative = z.output<typeof PendingForNative>;

/** Where the note of `batchId` is. */
export function pendingKeyOf(batchId: string): string {
  return `${PENDING_PREFIX}${batchId}.json`;
}

/** Writes the note of a batch left pending for the native engine. */
export async function notePendingForNative(
  store: ObjectStore,
  bucket: string,
  note: Omit<PendingForNative, "noted_at">,
  clock: Clock,
): Promise<void> {
  const body: PendingForNative = { ...note, noted_at: new Date(clock.now()).toISOString() };
  await store.put(
    bucket,
    pendingKeyOf(note.batch_id),
    new TextEncoder().encode(`${JSON.stringify(body, null, 2)}\n`),
    { contentType: "application/json" },
  );
}

/**
 * The note of `batchId` when it is about the manifest content `etag`, else
 * `undefined` (none, about older content, or unreadable: a plain failure).
 */
export async function pendingForNative(
  store: ObjectStore,
  bucket: string,
  batchId: string,
  etag: string,
): Promise<PendingForNative | undefined> {
  const key = pendingKeyOf(batchId);
  if (await store.head(bucket, key) === undefined) return undefined;
  let note: PendingForNative;
  try {
    note = PendingForNative.parse(
      JSON.parse(new TextDecoder().decode(await store.getBytes(bucket, key))),
    );
  } catch (error) {
    // Gone meanwhile, or not a note: the batch is retried as any failed one.
    const gone = error instanceof PlatformError && error.code === "object_store.not_found";
    if (gone || error instanceof SyntaxError || error instanceof z.ZodError) return undefined;
    throw error;
  }
  return note.manifest_etag === etag ? note : undefined;
}

/** Removes the note of `batchId` (no-op without one). */
export async function clearPendingForNative(
  store: ObjectStore,
  bucket: string,
  batchId: string,
): Promise<void> {
  if (await store.head(bucket, pendingKeyOf(batchId)) !== undefined) {
    await store.delete(bucket, pendingKeyOf(batchId));
  }
}
