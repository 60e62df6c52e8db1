/**
 * The web UI: `deno task ui` serves it, `deno task dev` serves it together
 * with the sensor daemon in one process (like `dagster dev`).
 *
 * @example
 * ```ts
 * import { defineGraph } from "../core/definitions.ts";
 * import { MemoryRunStore } from "../core/run_store/memory.ts";
 * import { serveUi } from "./mod.ts";
 * const graph = defineGraph({ assets: [] });
 * await using store = new MemoryRunStore();
 * const server = await serveUi({ graph, store, port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 *
 * @module
 */

export * from "./serve.ts";
export { UiContext, type UiSources } from "./context.ts";
export { Launcher } from "./launcher.ts";
export { createApp } from "./server.ts";
export { layoutGraph } from "./layout.ts";
