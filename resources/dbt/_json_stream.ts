/**
 * Writes a large JSON artifact (manifest.json: 76 MB for 10k models and
 * 30k tests) as `JSON.stringify(value)` would, byte for byte, without ever
 * holding the whole value or its text.
 *
 * On one line, as dbt-core writes its artifacts (`json.dump` without an
 * indent; dbt puts a space after `,` and `:`, which no JSON reader sees):
 * V8 prints JSON without a `space` argument on a fast path that an indent
 * turns off. With an indent, as before, a 10k-model manifest was 112 MB
 * and the text of its 40k nodes took 180-420 ms to print on this machine
 * (JSON.stringify of 200-node slices, warm, load 13), against 120-220 ms
 * for the 77 MB without one (bench/dbt.ts has the whole command's figures).
 *
 * Why not `JSON.stringify` of the whole value: for the 10k-model manifest
 * that built a 40k-node object graph (old-generation garbage), one string of
 * the whole text and its UTF-8 copy, and wrote it in one go (3.6-4.5 s of
 * main-thread CPU at load 12 against 2.2-2.5 s written in slices, when
 * indented). Here the big maps' values are made slice by slice
 * ({@linkcode LazyEntries}: 200 values at a time, garbage that dies young),
 * each slice's text comes from `JSON.stringify` itself (so escaping, number
 * printing and omitted `undefined`s are V8's), and it is written while the
 * next slice is made (the kernel's copy runs on Deno's blocking thread).
 *
 * @module
 */

import { asDiskFull } from "../../core/errors.ts";

/** A JSON value, as the artifacts are written. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A JSON object whose values are made when written: `keys` in order, and
 * `value(i)` makes the value of `keys[i]` (`undefined` omits the key, as
 * JSON.stringify does). Keys are distinct and none is an array index
 * (`"0"`, `"17"`): an object would print those first (dbt's unique ids,
 * `model.pkg.name`, never are).
 */
export class LazyEntries {
  /** The keys, in the order written. */
  readonly keys: readonly string[];
  /** Makes the value of `keys[index]`. */
  readonly value: (index: number) => Json | undefined;

  /** Wraps `keys` and the maker of their values. */
  constructor(keys: readonly string[], value: (index: number) => Json | undefined) {
    this.keys = keys;
    this.value = value;
  }

  /** The object itself, every value made now. */
  materialize(): Record<string, Json> {
    const out: Record<string, Json> = {};
    for (let i = 0; i < this.keys.length; i++) {
      const value = this.value(i);
      if (value !== undefined) out[this.keys[i]!] = value;
    }
    return out;
  }
}

/** A top-level object whose values are JSON or {@linkcode LazyEntries}. */
export type JsonParts = Readonly<Record<string, Json | LazyEntries>>;

/** `parts` with every {@linkcode LazyEntries} made: the value {@linkcode writeJsonParts} writes. */
export function materializeParts(parts: JsonParts): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const key of Object.keys(parts)) {
    const part = parts[key]!;
    out[key] = part instanceof LazyEntries ? part.materialize() : part;
  }
  return out;
}

/** Values stringified together: big enough that the calls cost nothing, small enough to die young. */
const SLICE = 200;
/** Text written at once (bytes of UTF-16 units, roughly): fewer, larger writes. */
const FLUSH_AT = 1 << 20;

/**
 * Text to a file: encoded and written a megabyte at a time, one write in
 * flight. The bytes go to two buffers used in turn (the one a write holds is
 * never the one being filled) instead of a new array per megabyte: 112 new
 * megabyte arrays per 10k-model manifest were memory outside the heap that
 * V8 counts towards starting a full collection.
 */
class Sink {
  readonly #file: Deno.FsFile;
  readonly #encoder = new TextEncoder();
  readonly #buffers: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0)];
  #turn = 0;
  #buffered: string[] = [];
  #size = 0;
  #writing: Promise<void> = Promise.resolve();

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Adds `text`; resolves at once unless a megabyte is waiting (then after the last write). */
  put(text: string): Promise<void> | undefined {
    this.#buffered.push(text);
    this.#size += text.length;
    return this.#size >= FLUSH_AT ? this.flush() : undefined;
  }

  /** Waits for the write in flight, then starts writing what is buffered. */
  async flush(): Promise<void> {
    const text = this.#buffered.join("");
    // The write two flushes back has ended: each flush waits for the one before it.
    let buffer = this.#buffers[this.#turn]!;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (buffer.length < text.length * 3) {
      buffer = this.#buffers[this.#turn] = new Uint8Array(Math.max(text.length * 3, FLUSH_AT * 4));
    }
    this.#turn ^= 1;
    const bytes = buffer.subarray(0, this.#encoder.encodeInto(text, buffer).written);
    this.#buffered = [];
    this.#size = 0;
    await this.#writing;
    // Started now, awaited at the next flush: the kernel copies these bytes on Deno's
    // blocking thread while this thread makes the next megabyte.
    this.#writing = this.#writeAll(bytes);
    // Observed at the next flush; until then a failure must not count as unhandled.
    this.#writing.catch(() => {});
  }

  /** Writes what is buffered and waits for every write. */
  async close(): Promise<void> {
    await this.flush();
    await this.#writing;
  }

  /** Waits for the write in flight, ignoring its failure (the caller reports its own). */
  settle(): Promise<void> {
    return this.#writing.catch(() => {});
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.#file.write(bytes.subarray(at));
  }
}

/** Writes the text of `lazy` as `JSON.stringify` prints it. */
async function writeLazy(lazy: LazyEntries, sink: Sink): Promise<void> {
  const { keys } = lazy;
  let wrote = false;
  for (let from = 0; from < keys.length; from += SLICE) {
    const slice: Record<string, Json> = {};
    for (let i = from; i < Math.min(from + SLICE, keys.length); i++) {
      const value = lazy.value(i);
      if (value !== undefined) slice[keys[i]!] = value;
    }
    // `{"k":V,...}`, or `{}` when every V was undefined.
    const text = JSON.stringify(slice);
    if (text === "{}") continue;
    await sink.put(wrote ? "," : "{");
    await sink.put(text.slice(1, -1));
    wrote = true;
  }
  await sink.put(wrote ? "}" : "{}");
}

/**
 * Writes `parts` to `dir/name` atomically (temp file, then rename) as
 * `JSON.stringify(materializeParts(parts))`; returns the path. A failure (a
 * maker throwing, the disk full) removes the temp file.
 */
export async function writeJsonParts(
  dir: string,
  name: string,
  parts: JsonParts,
): Promise<string> {
  const path = `${dir}/${name}`;
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  const file = await Deno.mkdir(dir, { recursive: true })
    .then(() => Deno.open(tmp, { write: true, create: true, truncate: true }))
    .catch((error) => {
      throw asDiskFull(error, `dbt's '${name}' (${path})`, path);
    });
  const sink = new Sink(file);
  try {
    let first = true;
    for (const key of Object.keys(parts)) {
      const part = parts[key]!;
      if (part instanceof LazyEntries) {
        await sink.put(`${first ? "{" : ","}${JSON.stringify(key)}:`);
        await writeLazy(part, sink);
      } else {
        const text = JSON.stringify(part) as string | undefined;
        if (text === undefined) continue;
        await sink.put(`${first ? "{" : ","}${JSON.stringify(key)}:${text}`);
      }
      first = false;
    }
    await sink.put(first ? "{}" : "}");
    await sink.close();
  } catch (error) {
    await sink.settle();
    file.close();
    await Deno.remove(tmp).catch(() => {}); // the error thrown is the one to report
    throw asDiskFull(error, `dbt's '${name}' (${path})`, path);
  }
  file.close();
  await Deno.rename(tmp, path);
  return path;
}
