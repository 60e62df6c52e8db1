/**
 * Writes a large JSON artifact (manifest.json: 110 MB for 10k models and
 * 30k tests) as `JSON.stringify(value, null, 2) + "\n"` would, byte for
 * byte, without ever holding the whole value or its text.
 *
 * Why not `JSON.stringify` of the whole value: for the 10k-model manifest
 * that built a 40k-node object graph (old-generation garbage), a 112 MB
 * string and its 112 MB UTF-8 copy, and wrote it in one go: 3.6-4.5 s of
 * main-thread CPU at load 12 against 2.2-2.5 s written in slices (the same
 * bytes). Here the big maps' values are made slice by slice
 * ({@linkcode LazyEntries}: 200 values at a time), each slice's text comes
 * from `JSON.stringify` itself (so escaping, number printing, key order and
 * omitted `undefined`s are V8's), and it is written while the next slice is
 * made (the kernel's copy runs on Deno's blocking thread). Values of one
 * fixed shape (a test's entry: 40 keys, 29 the same for every test) can
 * print themselves from a {@linkcode JsonTemplate} printed once, so only the
 * values that differ go through `JSON.stringify`: the 10k-model manifest
 * then took 2.0-2.3 s of main-thread CPU instead of 2.6 s (load 14).
 *
 * @module
 */

/** A JSON value, as the artifacts are written. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A value made when written that can also print itself: `text()` is its
 * text as `JSON.stringify` prints it nested at depth 2 (or undefined: then
 * `value()` is printed), and must agree with `value()`.
 */
export class LazyValue {
  /** Makes the value. */
  readonly value: () => Json | undefined;
  /** Its text at depth 2, or undefined to print `value()` instead. */
  readonly text: () => string | undefined;

  /** Wraps the two makers. */
  constructor(value: () => Json | undefined, text: () => string | undefined) {
    this.value = value;
    this.text = text;
  }
}

/** How a {@linkcode LazyEntries} value is made: a function, or a {@linkcode LazyValue}. */
export type LazyMaker = (() => Json | undefined) | LazyValue;

function make(maker: LazyMaker): Json | undefined {
  return maker instanceof LazyValue ? maker.value() : maker();
}

/**
 * A JSON object whose values are made when written: `entries` is an
 * ordinary object of key → maker, so its key order is what the made
 * object's would be (integer-like keys first, then insertion order).
 */
export class LazyEntries {
  /** Key → what makes its value (`undefined` omits the key, as JSON.stringify does). */
  readonly entries: Readonly<Record<string, LazyMaker>>;

  /** Wraps `entries`. */
  constructor(entries: Readonly<Record<string, LazyMaker>>) {
    this.entries = entries;
  }

  /** The object itself, every value made now. */
  materialize(): Record<string, Json> {
    const out: Record<string, Json> = {};
    for (const key of Object.keys(this.entries)) {
      const value = make(this.entries[key]!);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
}

/** Marks a template's hole `i` (JSON.stringify prints NUL as `\u0000`, which no value of ours makes). */
function hole(i: number): string {
  return `\u0000hole ${i}\u0000`;
}

/**
 * The text of an object shape whose values mostly never change (a test's
 * manifest entry: 40 keys, 29 of them the same for every test), printed
 * once with holes; {@linkcode render} prints only the values that differ,
 * each as `JSON.stringify` would in its place.
 */
export class JsonTemplate {
  /** Constant text before each hole, and after the last. */
  readonly #pieces: string[] = [];
  /** Which value each hole takes, in text order. */
  readonly #order: number[] = [];
  /** A newline and the indent of each hole's line (a nested value's lines are indented so). */
  readonly #indents: string[] = [];
  readonly #holes: number;

  /**
   * `shape` places the values it is given, in a fixed shape, computing
   * nothing from them (it is called once, with markers in place of values).
   */
  constructor(shape: (values: readonly Json[]) => Json, holes = 64) {
    const markers = Array.from({ length: holes }, (_, i) => hole(i));
    // Nested at depth 2, as under `nodes`.
    const text = JSON.stringify({ a: { b: shape(markers) } }, null, 2).slice(
      '{\n  "a": {\n    "b": '.length,
      -"\n  }\n}".length,
    );
    const found: { at: number; index: number; length: number }[] = [];
    markers.forEach((marker, index) => {
      const printed = JSON.stringify(marker);
      const at = text.indexOf(printed);
      if (at >= 0) found.push({ at, index, length: printed.length });
    });
    found.sort((a, b) => a.at - b.at);
    let from = 0;
    for (const { at, index, length } of found) {
      this.#pieces.push(text.slice(from, at));
      this.#order.push(index);
      const line = text.lastIndexOf("\n", at) + 1;
      this.#indents.push("\n" + " ".repeat(text.slice(line).search(/\S/)));
      from = at + length;
    }
    this.#pieces.push(text.slice(from));
    this.#holes = found.length;
  }

  /**
   * The shape's text with `values` in its holes, or undefined when a value
   * would not print in place (undefined: JSON.stringify would drop its key)
   * or their number is not the shape's.
   */
  render(values: readonly Json[]): string | undefined {
    if (values.length !== this.#holes) return undefined;
    let out = this.#pieces[0]!;
    for (let i = 0; i < this.#holes; i++) {
      const value = values[this.#order[i]!];
      if (value === undefined) return undefined;
      let text: string | undefined;
      if (typeof value === "object" && value !== null) {
        text = printPlain(value, this.#indents[i]!);
        if (text === undefined) {
          text = JSON.stringify(value, null, 2) as string | undefined;
          if (text === undefined) return undefined;
          if (text.includes("\n")) text = text.replaceAll("\n", this.#indents[i]!);
        }
      } else {
        text = JSON.stringify(value);
      }
      out += text + this.#pieces[i + 1]!;
    }
    return out;
  }
}

/**
 * `JSON.stringify(value, null, 2)` with `newline` (a newline and an indent)
 * in place of each newline, for a value of plain arrays, plain objects,
 * strings, finite or not numbers, booleans and nulls; undefined for
 * anything else inside (a `toJSON`, a class instance, an undefined member,
 * a bigint), which the caller prints with `JSON.stringify` itself.
 *
 * Why: a test's entry has five small objects to print (fqn, checksum, refs,
 * depends_on, kwargs); JSON.stringify with an indent, then re-indented,
 * cost 2-4x this for such values (150k of them for 30k tests: 160-300 ms
 * against 40-160 ms at load 14); for large values (a slice of 200 models)
 * JSON.stringify is the faster, so it prints those.
 */
function printPlain(value: unknown, newline: string): string | undefined {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return JSON.stringify(value);
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null) return "null";
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
  const inner = newline + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      const text = printPlain(value[i], inner);
      if (text === undefined) return undefined;
      out += (i === 0 ? inner : "," + inner) + text;
    }
    return out + newline + "]";
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const keys = Object.keys(value);
  if (keys.length === 0) return "{}";
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const text = printPlain((value as Record<string, unknown>)[key], inner);
    if (text === undefined) return undefined;
    out += (i === 0 ? inner : "," + inner) + JSON.stringify(key) + ": " + text;
  }
  return out + newline + "}";
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
 * `JSON.stringify(value, null, 2)` of a value nested at depth 1, as it
 * appears after `"key": ` there (undefined: the key is omitted).
 */
function depthOneText(value: Json | undefined): string | undefined {
  const text = JSON.stringify({ a: value }, null, 2);
  // `{\n  "a": VALUE\n}`, or `{}` when VALUE is undefined.
  return text.length === 2 ? undefined : text.slice(9, -2);
}

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

/** Writes the text of `lazy` as `JSON.stringify` prints it nested at depth 1 (its entries at depth 2). */
async function writeLazy(lazy: LazyEntries, sink: Sink): Promise<void> {
  const keys = Object.keys(lazy.entries);
  let wrote = false;
  let batch: Record<string, Json | undefined> = {};
  let batched = 0;
  const emit = async (text: string) => {
    await sink.put(wrote ? ",\n" : "{\n");
    await sink.put(text);
    wrote = true;
  };
  const flushBatch = async () => {
    if (batched === 0) return;
    // `{\n  "a": {\n    "k": V,\n    ...\n  }\n}`, or `{\n  "a": {}\n}` when every V was undefined.
    const text = JSON.stringify({ a: batch }, null, 2);
    batch = {};
    batched = 0;
    if (!text.endsWith("{}\n}")) await emit(text.slice(11, -6));
  };
  for (const key of keys) {
    const maker = lazy.entries[key]!;
    const text = maker instanceof LazyValue ? maker.text() : undefined;
    if (text !== undefined) {
      await flushBatch();
      await emit(`    ${JSON.stringify(key)}: ${text}`);
      continue;
    }
    batch[key] = make(maker);
    if (++batched === SLICE) await flushBatch();
  }
  await flushBatch();
  await sink.put(wrote ? "\n  }" : "{}");
}

/**
 * Writes `parts` to `dir/name` atomically (temp file, then rename) as
 * `JSON.stringify(materializeParts(parts), null, 2) + "\n"`; returns the path.
 * A failure (a maker throwing, the disk full) removes the temp file.
 */
export async function writeJsonParts(
  dir: string,
  name: string,
  parts: JsonParts,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${name}`;
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const sink = new Sink(file);
  try {
    let first = true;
    for (const key of Object.keys(parts)) {
      const part = parts[key]!;
      if (part instanceof LazyEntries) {
        await sink.put(`${first ? "{\n" : ",\n"}  ${JSON.stringify(key)}: `);
        await writeLazy(part, sink);
      } else {
        const text = depthOneText(part);
        if (text === undefined) continue;
        await sink.put(`${first ? "{\n" : ",\n"}  ${JSON.stringify(key)}: `);
        await sink.put(text);
      }
      first = false;
    }
    await sink.put(first ? "{}\n" : "\n}\n");
    await sink.close();
  } catch (error) {
    await sink.settle();
    file.close();
    await Deno.remove(tmp).catch(() => {}); // the error thrown is the one to report
    throw error;
  }
  file.close();
  await Deno.rename(tmp, path);
  return path;
}
