/**
 * The UI's front door: a TCP listener that reads each request's head itself,
 * with a deadline and a size limit, before handing the connection to the
 * HTTP server (Deno.serve on a private Unix socket).
 *
 * Deno.serve has neither: a client that sends its headers a byte at a time
 * (slowloris), or never finishes them, holds a connection for ever, and a URL
 * longer than about 90 KiB got an empty 400 from the runtime, which the UI
 * never sees. Here the first is answered 408 and closed, the second 414 (or
 * 431 for headers), each with a line of text saying what to do.
 *
 * Each connection carries one request (`Connection: close` is set on it), so
 * every request's head passes through the same checks; the HTTP itself (body,
 * chunking, compression) stays the server's. Where the runtime refuses a
 * request without a word (an empty 400 for a request line or header it cannot
 * parse, a closed connection for a broken chunked body), the front answers a
 * 400 saying what is wrong instead.
 *
 * @module
 */

import { toError } from "../core/errors.ts";
import { clip, quote } from "../core/printable.ts";

/** Options of {@linkcode serveFront}. */
export interface FrontOptions {
  /** Address to listen on. */
  readonly hostname: string;
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** The HTTP server's Unix socket. */
  readonly backendPath: string;
  /**
   * How long a request's head (request line and headers) may take to arrive
   * from the moment its connection opens, in milliseconds.
   * @default {10000}
   */
  readonly headTimeoutMs?: number;
  /**
   * Longest request line (method, URL, version), in bytes.
   * @default {16384}
   */
  readonly maxRequestLineBytes?: number;
  /**
   * Largest request head (request line and headers), in bytes; below the
   * runtime's own limit, so an oversized head always gets this answer.
   * @default {65536}
   */
  readonly maxHeadBytes?: number;
  /** Told about a connection that failed for a reason other than the client leaving. */
  readonly onError?: (error: Error) => void;
}

/** A listening front door. */
export interface Front {
  /** The address it listens on. */
  readonly addr: Deno.NetAddr;
  /** Stops accepting and closes every open connection. */
  close(): void;
}

/** The client's head in bytes, or the answer it gets instead. */
type HeadRead =
  | { readonly head: Uint8Array; readonly rest: Uint8Array }
  | { readonly status: 408 | 414 | 431; readonly text: string }
  | { readonly gone: true };

const REASONS = {
  400: "Bad Request",
  408: "Request Timeout",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
};

/** Listens on `hostname:port` and serves each connection through the backend socket. */
export function serveFront(options: FrontOptions): Front {
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const open = new Set<Deno.Conn>();
  let closed = false;
  const accept = async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed) return;
        // A refused accept (too many open files) is the client's loss, not the server's end.
        options.onError?.(toError(error));
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      open.add(conn);
      void serveConnection(conn, options, open).catch((error) => options.onError?.(toError(error)))
        .finally(() => {
          open.delete(conn);
          closeQuietly(conn);
        });
    }
  };
  void accept();
  return {
    addr: listener.addr as Deno.NetAddr,
    close() {
      closed = true;
      closeQuietly(listener);
      for (const conn of open) closeQuietly(conn);
      open.clear();
    },
  };
}

async function serveConnection(
  client: Deno.Conn,
  options: FrontOptions,
  open: Set<Deno.Conn>,
): Promise<void> {
  const read = await readHead(client, {
    timeoutMs: options.headTimeoutMs ?? 10_000,
    maxLine: options.maxRequestLineBytes ?? 16_384,
    maxHead: options.maxHeadBytes ?? 65_536,
  });
  if ("gone" in read) return;
  if ("status" in read) {
    await answer(client, read.status, read.text).catch(() => {});
    return;
  }
  const backend = await Deno.connect({ transport: "unix", path: options.backendPath });
  // Closed with the rest on close(): the server's shutdown waits for every connection it has.
  open.add(backend);
  try {
    await writeAll(backend, oneRequest(read.head));
    if (read.rest.length > 0) await writeAll(backend, read.rest);
    // The body (if any) goes on to the server while the answer comes back; the answer's end
    // (the server closes after one request) ends both.
    void pump(client, backend);
    await relayAnswer(backend, client, read.head);
  } finally {
    open.delete(backend);
    closeQuietly(backend);
  }
}

/**
 * Reads up to the blank line ending the request's head, within the deadline
 * and the size limits.
 */
async function readHead(
  conn: Deno.Conn,
  limits: { timeoutMs: number; maxLine: number; maxHead: number },
): Promise<HeadRead> {
  let buffer = new Uint8Array(4096);
  let length = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), limits.timeoutMs);
  });
  try {
    for (;;) {
      if (length === buffer.length) {
        const bigger = new Uint8Array(Math.min(buffer.length * 2, limits.maxHead + 1));
        bigger.set(buffer);
        buffer = bigger;
      }
      const chunk = buffer.subarray(length);
      const n = await Promise.race([conn.read(chunk).catch(() => null), timeout]);
      if (n === "timeout") {
        return {
          status: 408,
          text: `The request's headers did not arrive within ${
            limits.timeoutMs / 1000
          } s; the connection is closed. Send the whole request at once.`,
        };
      }
      if (n === null) return { gone: true };
      const from = Math.max(0, length - 3);
      length += n;
      const lineEnd = buffer.subarray(0, length).indexOf(0x0a);
      if ((lineEnd === -1 ? length : lineEnd) > limits.maxLine) {
        return {
          status: 414,
          text: `The request's URL is longer than ${limits.maxLine} bytes; shorten it ` +
            "(fewer or shorter query parameters).",
        };
      }
      const end = headEnd(buffer, from, length);
      if (end !== -1) return { head: buffer.slice(0, end), rest: buffer.slice(end, length) };
      if (length > limits.maxHead) {
        return {
          status: 431,
          text: `The request's headers are larger than ${limits.maxHead} bytes; send fewer ` +
            "or smaller headers (clear this site's cookies).",
        };
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The index after the blank line ending the head (CRLF CRLF, or bare LF LF), or -1. */
function headEnd(buffer: Uint8Array, from: number, length: number): number {
  for (let i = from; i < length; i++) {
    if (buffer[i] !== 0x0a) continue;
    if (buffer[i + 1] === 0x0a && i + 1 < length) return i + 2;
    if (buffer[i + 1] === 0x0d && buffer[i + 2] === 0x0a && i + 2 < length) return i + 3;
  }
  return -1;
}

/** The head with its `Connection` headers replaced by `Connection: close`. */
function oneRequest(head: Uint8Array): Uint8Array {
  // Bytes as one char each, so a URL or header that is not UTF-8 passes unchanged.
  const lines = latin1(head).replace(/\r?\n\r?\n$/, "").split(/\r?\n/);
  const kept = lines.filter((line, i) => i === 0 || !/^connection\s*:/i.test(line));
  return Uint8Array.from(
    `${kept.join("\r\n")}\r\nConnection: close\r\n\r\n`,
    (c) => c.charCodeAt(0),
  );
}

async function answer(conn: Deno.Conn, status: keyof typeof REASONS, text: string): Promise<void> {
  const body = new TextEncoder().encode(`${text}\n`);
  const head = `HTTP/1.1 ${status} ${REASONS[status]}\r\n` +
    "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n" +
    `Cache-Control: no-store\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  await writeAll(conn, new TextEncoder().encode(head));
  await writeAll(conn, body);
}

/**
 * Copies the server's answer to the client, except the runtime's own refusals,
 * which say nothing: an empty 400 (the app's 400s always have a body) and a
 * connection closed with no answer at all (a chunked body whose framing is
 * broken). Those become a 400 naming what is wrong in the request.
 */
async function relayAnswer(backend: Deno.Conn, client: Deno.Conn, head: Uint8Array): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let first = new Uint8Array(0);
  for (;;) {
    const n = await backend.read(buffer).catch(() => null);
    if (n === null) break;
    const joined = new Uint8Array(first.length + n);
    joined.set(first);
    joined.set(buffer.subarray(0, n), first.length);
    first = joined;
    if (headEnd(first, 0, first.length) !== -1 || first.length > 16_384) break;
  }
  if (first.length === 0 || isBareRefusal(first)) {
    await answer(client, 400, refusalText(latin1(head), first.length === 0)).catch(() => {});
    return;
  }
  await writeAll(client, first);
  await pump(backend, client);
}

/** Whether an answer's head is the runtime's 400: no body, no type. */
function isBareRefusal(bytes: Uint8Array): boolean {
  const end = headEnd(bytes, 0, bytes.length);
  if (end === -1) return false;
  const text = latin1(bytes.subarray(0, end));
  return /^HTTP\/1\.[01] 400 /.test(text) && /\r?\ncontent-length:\s*0\r?\n/i.test(text) &&
    !/\r?\ncontent-type:/i.test(text);
}

/** What the runtime refused in a request: the first thing found wrong in its head. */
function refusalText(head: string, closed: boolean): string {
  const lines = head.replace(/\r?\n\r?\n$/, "").split(/\r?\n/);
  const requestLine = lines[0] ?? "";
  const shown = (text: string) => quote(clip(text, 120));
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e\x80-\xff]+ HTTP\/1\.[01]$/.test(requestLine)) {
    return `The request line ${shown(requestLine)} is not 'METHOD /path HTTP/1.1' ` +
      "(a space or control character in the URL must be percent-encoded).";
  }
  const fields = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    const value = line.slice(colon + 1).trim();
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
      return `The header line ${shown(line)} is not 'Name: value' (a header name is letters, ` +
        "digits and -, followed by a colon).";
    }
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
      return `The header ${shown(name)} has a control character in its value ${shown(value)}; ` +
        "remove it or percent-encode the value.";
    }
    const key = name.toLowerCase();
    fields.set(key, [...(fields.get(key) ?? []), value]);
  }
  const lengths = fields.get("content-length") ?? [];
  const codings = fields.get("transfer-encoding") ?? [];
  if (lengths.length > 0 && codings.length > 0) {
    return "The request has both Content-Length and Transfer-Encoding; send one of them.";
  }
  const bad = lengths.find((value) => !/^\d+$/.test(value));
  if (bad !== undefined) {
    return `Content-Length ${shown(bad)} is not a number of bytes.`;
  }
  if (new Set(lengths).size > 1) {
    return `The request has ${lengths.length} different Content-Length headers; send one.`;
  }
  if (closed && codings.length > 0) {
    return "The request body's chunked encoding is broken (a chunk size that is not " +
      "hexadecimal, or a chunk that does not end where its size says); send valid chunks, " +
      "or the body with a Content-Length.";
  }
  return closed
    ? "The request body could not be read as its headers describe it; send it with a " +
      "Content-Length that is its size in bytes."
    : "The request is not HTTP/1.1 the server can read (its request line, headers or " +
      "body framing); send the request again as HTTP/1.1.";
}

/** Bytes as one char each: a head is ASCII, and any other byte is shown, not decoded. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** Copies `from` to `to` until `from` ends or either fails (the other side left). */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) return;
      await writeAll(to, buffer.subarray(0, n));
    }
  } catch {
    // One side closed: the connection is over.
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}
