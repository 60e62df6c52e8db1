/**
 * Writes resources/dbt/jinja/global_compiled.ts: the global project's macros
 * compiled by nunjucks, so a process does not compile them at each start
 * (resources/dbt/jinja/precompiled.ts). Run it after changing a global,
 * materialization or adapter macro, the Jinja preprocessing or the compiler
 * (tests/resources/dbt/jinja/precompiled_test.ts says when):
 *
 *     deno run -A tools/gen_global_compiled.ts
 *
 * @module
 */

import { templateCode } from "../resources/dbt/jinja/env.ts";
import { GLOBAL_MACROS_FILE } from "../resources/dbt/jinja/global_project.ts";
import { globalProjectSource } from "../resources/dbt/jinja/global_source.ts";
import { precompiledModule } from "../resources/dbt/jinja/precompiled.ts";

/** Path of the generated module. */
export const GENERATED = new URL("../resources/dbt/jinja/global_compiled.ts", import.meta.url);

/** The generated module's text as this tree makes it. */
export function generatedModule(): string {
  const source = globalProjectSource();
  return precompiledModule(source, GLOBAL_MACROS_FILE, templateCode(source, GLOBAL_MACROS_FILE));
}

if (import.meta.main) {
  await Deno.writeTextFile(GENERATED, generatedModule());
  console.log(`wrote ${GENERATED.pathname}`);
}
