/**
 * The intents a spatial batch may declare in its manifest. An intent names
 * what the platform does to the batch's vector layers before writing them to
 * the lake; its SQL lives in `resources/spatial/recipes.ts`, written once in
 * the subset PostGIS and SpatiaLite share.
 *
 * @module
 */

import { z } from "zod";

/** Every intent a manifest may name, in the order they are documented. */
export const INTENT_NAMES = ["publish", "measure", "centroids"] as const;

/**
 * The intent of a batch:
 * - `publish`: the layers as given (reprojected, geometries made valid);
 * - `measure`: adds `area_m2` (polygons) and `length_m` (lines), geodesic;
 * - `centroids`: one point per feature (a point on its surface), attributes kept.
 */
export const Intent = z.enum(INTENT_NAMES);

/** One of {@linkcode INTENT_NAMES}. */
export type Intent = z.output<typeof Intent>;
