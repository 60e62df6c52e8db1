/**
 * The lake: the object store `LAKE_URL` names, with the landing and lake
 * buckets ready.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { openObjectStore } from "./object_store/open.ts";
import type { ObjectStore } from "./object_store/types.ts";

/**
 * Opens the object store; embedded buckets are folders (or maps) created on
 * first use, while a server's buckets must already exist (compose creates them).
 */
export async function openLake(config: Config): Promise<ObjectStore> {
  const store = openObjectStore(config.LAKE_URL, {
    source: "LAKE_URL",
    region: config.S3_REGION,
    ...(config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
      ? {
        credentials: {
          accessKeyId: config.S3_ACCESS_KEY_ID,
          secretAccessKey: config.S3_SECRET_ACCESS_KEY,
        },
      }
      : {}),
  });
  if (store.backend !== "s3") {
    for (const bucket of [config.LANDING_BUCKET, config.LAKE_BUCKET]) {
      await store.ensureBucket(bucket);
    }
  }
  return store;
}
