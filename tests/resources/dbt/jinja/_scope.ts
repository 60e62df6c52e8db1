/**
 * The render scope of the Jinja unit tests: a template rendered outside a
 * project, where ref/source/config/var/env_var must not be called.
 *
 * @module
 */

import type { RenderScope } from "../../../../resources/dbt/jinja/env.ts";

const refuse = (): never => {
  throw new Error("not in this test");
};

/** A scope with no project: `execute` true as dbt compiles, false as it parses. */
export function bareScope(execute: boolean): RenderScope {
  return {
    ref: refuse,
    source: refuse,
    config: refuse,
    var: refuse,
    envVar: refuse,
    isIncremental: () => false,
    self: undefined,
    target: {},
    execute,
  };
}
