/**
 * The application's resources: their types, and factories that open the
 * implementation each configured URL names.
 *
 * @module
 */

import { defineResource, type ResourceSources } from "../core/mod.ts";
import { type Config, redactUrl } from "./config.ts";
import { openObjectStore } from "./object_store/mod.ts";
import type { ObjectStore } from "./object_store/types.ts";

/** Every resource an asset of this project may declare. */
export interface AppResources {
  /** The object store holding the landing zone and the data lake buckets. */
  readonly lake: ObjectStore;
}

/** Resource factories for `config`; each opens on first use in a run. */
export function appResources(config: Config): ResourceSources<AppResources> {
  return {
    lake: defineResource(`object store ${redactUrl(config.LAKE_URL)}`, () =>
      openObjectStore(config.LAKE_URL, {
        region: config.S3_REGION,
        ...(config.S3_ACCESS_KEY_ID ? { accessKeyId: config.S3_ACCESS_KEY_ID } : {}),
        ...(config.S3_SECRET_ACCESS_KEY ? { secretAccessKey: config.S3_SECRET_ACCESS_KEY } : {}),
      })),
  };
}

export { type Config, loadConfig, redactUrl } from "./config.ts";
