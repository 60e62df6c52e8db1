/**
 * A small structured logger handed to assets through their context.
 *
 * @module
 */

import type { Metadata } from "./metadata.ts";

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** One structured log line. */
export interface LogRecord {
  /** Severity. */
  level: LogLevel;
  /** Human-readable message. */
  message: string;
  /** Structured fields; never put secrets here. */
  fields: Metadata;
  /** Milliseconds since the epoch. */
  time: number;
}

/** The logger an asset, check or sensor writes to. */
export interface Logger {
  /** Details useful while debugging. */
  debug(message: string, fields?: Metadata): void;
  /** Normal progress. */
  info(message: string, fields?: Metadata): void;
  /** Something odd that did not stop the work. */
  warn(message: string, fields?: Metadata): void;
  /** Something failed. */
  error(message: string, fields?: Metadata): void;
}

/** Builds a {@linkcode Logger} that hands every record to `sink`. */
export function createLogger(sink: (record: LogRecord) => void, now = Date.now): Logger {
  const at = (level: LogLevel) => (message: string, fields: Metadata = {}) =>
    sink({ level, message, fields, time: now() });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger(() => {});

/**
 * One record as a line of a command's output: `TIME LEVEL message {fields}`,
 * or with `json` one JSON object per line (for log shippers). Shared by the
 * long-running commands so that a sensor daemon's and a worker's logs read
 * the same.
 */
export function formatLogLine(record: LogRecord, json: boolean): string {
  const time = new Date(record.time).toISOString();
  if (json) {
    return JSON.stringify({
      time,
      level: record.level,
      message: record.message,
      ...record.fields,
    }) +
      "\n";
  }
  const fields = Object.keys(record.fields).length ? ` ${JSON.stringify(record.fields)}` : "";
  return `${time} ${record.level.toUpperCase().padEnd(5)} ${record.message}${fields}\n`;
}
