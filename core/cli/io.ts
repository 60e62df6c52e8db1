/**
 * Where the CLI writes, injected so tests capture output instead of reading a
 * terminal.
 *
 * @module
 */

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

/** The process's real streams. */
export function processIo(): CliIo {
  const isTerminal = Deno.stdout.isTerminal();
  let columns = 100;
  try {
    if (isTerminal) columns = Deno.consoleSize().columns;
  } catch {
    // No console size (e.g. piped): keep the default width.
  }
  return {
    out: (text) => void Deno.stdout.writeSync(encoder.encode(text)),
    err: (text) => void Deno.stderr.writeSync(encoder.encode(text)),
    isTerminal,
    columns,
  };
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
      io.stdout += text;
    },
    err(text: string) {
      io.stderr += text;
    },
  };
  return io;
}
