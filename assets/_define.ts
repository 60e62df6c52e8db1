/**
 * `asset()` and `check()` typed by the application's resources, so each
 * asset's `ctx.resources` holds exactly what it declared.
 *
 * @module
 */

import { assetFactory, checkFactory } from "../core/asset.ts";
import type { AppResources } from "../resources/app.ts";

/** Declares an asset of this project. */
export const asset = assetFactory<AppResources>();

/** Declares a check apart from its asset. */
export const check = checkFactory<AppResources>();
