/**
 * Typed errors of the activity pipeline.
 *
 * @module
 */

import { PlatformError } from "../../core/errors.ts";
import type { BadValue } from "./_columns.ts";
import type { RejectionReason } from "./report.ts";

/**
 * A drop was rejected whole: nothing of it was loaded and it was moved to the
 * quarantine. `code` is `activity.<reason>`, e.g. `activity.missing_columns`.
 *
 * @example
 * ```ts
 * import { FileRejectedError } from "./errors.ts";
 * function isTooDirty(error: unknown): boolean {
 *   return error instanceof FileRejectedError && error.reason === "too_many_bad_rows";
 * }
 * ```
 */
export class FileRejectedError extends PlatformError {
  /** Why the file was rejected. */
  readonly reason: RejectionReason;

  /** Rows named by the rejection itself (e.g. the repeats of `duplicate_rows`), for the report. */
  readonly rows: readonly BadValue[];

  /** Creates the error; `file` is the file name, `why` says what is wrong and what to do. */
  constructor(
    reason: RejectionReason,
    file: string,
    why: string,
    options: { cause?: unknown; rows?: readonly BadValue[] } = {},
  ) {
    super(`activity.${reason}`, `Cannot load '${file}': ${why}`, {
      assetKey: "bronze_activity",
      input: file,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.reason = reason;
    this.rows = options.rows ?? [];
  }
}
