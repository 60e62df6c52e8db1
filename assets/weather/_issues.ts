/**
 * Turns zod issues into one line that names each field by its path, e.g.
 * `hourly.temperature_2m[3]: expected number, received string`.
 *
 * @module
 */

import type { z } from "zod";

/** How many issues a message lists before it says "and N more". */
const SHOWN = 5;

/** `a.b[2].c`: a zod issue path as a person reads it. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  return path.map((part, i) =>
    typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`
  ).join("");
}

/** Every issue as `path: message`, the first few joined with `; `. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.slice(0, SHOWN).map((issue) =>
    `${formatPath(issue.path)}: ${issue.message}`
  );
  const more = issues.length > SHOWN ? `; and ${issues.length - SHOWN} more` : "";
  return lines.join("; ") + more;
}
