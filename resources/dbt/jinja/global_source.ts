/**
 * The global project's Jinja source as one template: its cross-database
 * macros, materializations and adapter macros. Loaded as one template (one
 * compile, one parse-cache entry), and compiled ahead of time from this text
 * (jinja/precompiled.ts).
 *
 * @module
 */

import { GLOBAL_MACROS } from "./global_project.ts";
import { ADAPTER_MACROS } from "./adapter_macros.ts";
import { MATERIALIZATION_MACROS } from "./materialization_macros.ts";

/** The global project's macros, in the order they are loaded. */
export function globalProjectSource(): string {
  return GLOBAL_MACROS + MATERIALIZATION_MACROS + ADAPTER_MACROS;
}
