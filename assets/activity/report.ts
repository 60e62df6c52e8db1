/**
 * Shapes people and tools read: the row of `ops.raw_ingest_manifest` and the
 * `<name>.error.json` report written next to a quarantined file.
 *
 * @module
 */

import { z } from "zod";

/** Why a whole file was rejected. */
export const RejectionReasonSchema = z.enum([
  "missing_columns",
  "too_many_bad_rows",
  "invalid_encoding",
  "record_too_long",
  "empty_file",
  "load_failed",
  "duplicate_columns",
  "duplicate_rows",
  "day_first_dates",
]);

/** Why a whole file was rejected. */
export type RejectionReason = z.infer<typeof RejectionReasonSchema>;

/** One row of `ops.raw_ingest_manifest`. */
export const ManifestEntrySchema = z.object({
  /** File name under `activity/` in the landing zone. */
  source_filename: z.string().min(1),
  /** Lowercase hex SHA-256 of the file's bytes. */
  checksum_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** When the file was loaded or rejected. */
  ingested_at: z.date(),
  /** Rows loaded from this version of the file (0 when rejected). */
  row_count: z.number().int().min(0),
  /** `loaded`, or `rejected` (the file went to quarantine). */
  status: z.enum(["loaded", "rejected"]),
});

/** One row of `ops.raw_ingest_manifest`. */
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;

/** A value (or a whole row, `column: null`) that could not be used. */
export const BadValueSchema = z.object({
  /** Data row, 1 = the first row after the header. */
  row: z.number().int().min(1),
  /** File line where the row starts (the header is line 1). */
  line: z.number().int().min(1),
  /** CSV column, or `null` for a whole-row problem (field count, quoting). */
  column: z.string().nullable(),
  /** The value as written (cut to 100 characters), or `null` for a whole-row problem. */
  value: z.string().nullable(),
  /** What is wrong, e.g. `is not a whole number between 0 and 2147483647`. */
  problem: z.string(),
});

/** The report `<name>.error.json` written next to a quarantined file. */
export const RejectionReportSchema = z.object({
  /** Where the file was dropped, `<bucket>/<key>`. */
  file: z.string(),
  /** Where it was moved, `<bucket>/<key>`. */
  quarantined_as: z.string(),
  /** File name, as in the manifest. */
  source_filename: z.string(),
  /** SHA-256 of the rejected bytes. */
  checksum_sha256: z.string(),
  /** ISO-8601 time of the rejection. */
  rejected_at: z.string(),
  /** Run that rejected it. */
  run_id: z.string(),
  /** Why it was rejected. */
  reason: RejectionReasonSchema,
  /** One sentence saying what is wrong and what to do. */
  message: z.string(),
  /** Header of the file, when it could be read. */
  header: z.array(z.string()).nullable(),
  /** Required columns the header lacks. */
  missing_columns: z.array(z.string()),
  /** Where the bytes stop being UTF-8, for `invalid_encoding`. */
  encoding_error: z.object({ byte_offset: z.number().int(), line: z.number().int() }).nullable(),
  /** Data rows read before the decision. */
  data_rows: z.number().int(),
  /** Rows with at least one bad value. */
  bad_rows: z.number().int(),
  /** `bad_rows / data_rows`. */
  bad_row_ratio: z.number(),
  /** `ACTIVITY_BAD_ROW_TOLERANCE` at the time. */
  tolerance: z.number(),
  /** Bad values found in all. */
  errors_total: z.number().int(),
  /** The first bad values (at most 100), each naming row, line and column. */
  errors: z.array(BadValueSchema),
  /** Rows of an earlier version of the same file that stay loaded, if any. */
  previous_rows_kept: z.number().int(),
});

/** The report `<name>.error.json` written next to a quarantined file. */
export type RejectionReport = z.infer<typeof RejectionReportSchema>;
