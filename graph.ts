/**
 * THE definitions of this project: which assets, checks and resources make up
 * the graph. Resources come from the configuration (environment and `.env`).
 *
 * @module
 */

import { defineGraph } from "./core/mod.ts";
import { demoAssets } from "./assets/demo.ts";
import { type AppResources, appResources, loadConfig } from "./resources/mod.ts";

/** The asset graph `deno task materialize` runs. */
export const graph = defineGraph<AppResources>({
  assets: [...demoAssets],
  resources: appResources(loadConfig()),
});
