/**
 * The command lines of deno.json's tasks. A task is written as an object with
 * a `description` (what `deno task` lists) and its `command`; a bare string is
 * still read, as Deno reads it.
 *
 * @module
 */

import { z } from "zod";

const Tasks = z.record(
  z.string(),
  z.union([z.string(), z.object({ command: z.string(), description: z.string().optional() })]),
);

/** Every task of deno.json, as written: `{command, description?}` objects or bare strings. */
export const DENO_TASKS: z.infer<typeof Tasks> = Tasks.parse(
  JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url))).tasks,
);

/**
 * The command line of the task `name`.
 * @throws {RangeError} when deno.json has no such task.
 */
export function taskCommand(name: string): string {
  const task = DENO_TASKS[name];
  if (task === undefined) throw new RangeError(`deno.json has no task '${name}'`);
  return typeof task === "string" ? task : task.command;
}
