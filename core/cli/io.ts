/**
 * Where the CLI writes, injected so tests capture output instead of reading a
 * terminal. Everything written passes through the redaction helper
 * (core/secrets.ts), so no registered secret or URL password reaches a
 * terminal, a pipe or a test's captured output.
 *
 * @module
 */

import { redact } from "../secrets.ts";
import { printable } from "../printable.ts";

/** Output streams of the CLI. */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Whether standard output is a terminal (live progress view) or not (JSON lines). */
  readonly isTerminal: boolean;
  /** Terminal width in columns. */
  readonly columns: number;
}

const encoder = new TextEncoder();

/**
 * The process's real streams.
 *
 * When the reader of standard output goes away (`... | head -1`), output stops
 * with a note on standard error, but the command goes on: a run half done must
 * still finish and be recorded, rather than die and stay "running" forever.
 */
export function processIo(): CliIo {
  const isTerminal = Deno.stdout.isTerminal();
  let columns = 100;
  try {
    if (isTerminal) columns = Deno.consoleSize().columns;
  } catch {
    // No console size (e.g. piped): keep the default width.
  }
  let stdoutOpen = true;
  return {
    out: (text) => {
      if (!stdoutOpen) return;
      try {
        writeAll(Deno.stdout, text);
      } catch (error) {
        if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
        stdoutOpen = false;
        writeAll(Deno.stderr, "note: standard output was closed; the command goes on without it\n");
      }
    },
    err: (text) => writeAll(Deno.stderr, errorText(text)),
    isTerminal,
    columns,
  };
}

/**
 * What standard error gets of `text`: its control characters but line ends and
 * tabs escaped (core/printable.ts). Only standard output draws (the live
 * progress view); standard error carries messages, which quote user input
 * (a selection, a partition, a file name), and a raw ESC or carriage return
 * there would rewrite the user's terminal.
 */
function errorText(text: string): string {
  // A leading carriage return redraws a counter in place (backfill's "queued n/m").
  if (text.startsWith("\r")) return `\r${printable(text.slice(1), { keepLines: true })}`;
  return printable(text, { keepLines: true });
}

/**
 * Writes all of `text` with its secrets redacted (`core/secrets.ts`):
 * `writeSync` may write only part of it to a pipe.
 */
function writeAll(stream: { writeSync(bytes: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(redact(text));
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

/** Streams that collect text, for tests. */
export function memoryIo(
  options: { isTerminal?: boolean } = {},
): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    isTerminal: options.isTerminal ?? false,
    columns: 100,
    out(text: string) {
      io.stdout += redact(text);
    },
    err(text: string) {
      io.stderr += redact(errorText(text));
    },
  };
  return io;
}
