/**
 * Reads the footer of a Parquet object (row count, schema, key-value
 * metadata) with two ranged reads of its last bytes, so a check never holds
 * the whole file in memory. The footer is Thrift compact protocol; this
 * decodes it generically and picks the few `FileMetaData` fields needed.
 *
 * @module
 */

import type { ObjectStore } from "../../resources/object_store/types.ts";

/** One node of the Parquet schema (flattened depth-first in the footer). */
export interface ParquetSchemaNode {
  /** Column or group name. */
  name: string;
  /** Physical type code (6 = BYTE_ARRAY, 5 = DOUBLE...), `undefined` for a group. */
  physicalType: number | undefined;
  /** Child nodes of a group. */
  children: ParquetSchemaNode[];
}

/** What a Parquet footer says. */
export interface ParquetFooter {
  /** Total rows in the file. */
  numRows: number;
  /** Top-level columns of the schema. */
  columns: ParquetSchemaNode[];
  /** File key-value metadata, e.g. `geo`. */
  keyValue: Map<string, string>;
  /** Footer length in bytes. */
  footerBytes: number;
}

/** Largest footer read; larger ones are refused to keep memory bounded. */
const MAX_FOOTER = 64 * 1024 * 1024;
const MAGIC = "PAR1";

type ThriftValue =
  | number
  | bigint
  | boolean
  | Uint8Array
  | ThriftValue[]
  | ThriftStruct
  | Map<ThriftValue, ThriftValue>;
type ThriftStruct = { fields: Map<number, ThriftValue> };

/** Thrift compact protocol, read-only. */
class CompactReader {
  #pos = 0;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #byte(): number {
    const b = this.#bytes[this.#pos++];
    if (b === undefined) throw new RangeError("the footer is truncated");
    return b;
  }

  #varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.#byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new RangeError("the footer has a malformed varint");
  }

  #zigzag(): number {
    const n = this.#varint();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  #value(type: number): ThriftValue {
    switch (type) {
      case 1:
        return true;
      case 2:
        return false;
      case 3:
        return this.#byte();
      case 4:
      case 5:
      case 6:
        return this.#zigzag();
      case 7: {
        if (this.#pos + 8 > this.#bytes.length) throw new RangeError("the footer is truncated");
        const v = this.#view.getFloat64(this.#pos, true);
        this.#pos += 8;
        return v;
      }
      case 8: {
        const length = this.#varint();
        if (this.#pos + length > this.#bytes.length) {
          throw new RangeError("the footer is truncated");
        }
        const v = this.#bytes.subarray(this.#pos, this.#pos + length);
        this.#pos += length;
        return v;
      }
      case 9:
      case 10: {
        const header = this.#byte();
        const size = (header >> 4) === 15 ? this.#varint() : header >> 4;
        const elementType = header & 0x0f;
        const items: ThriftValue[] = [];
        for (let i = 0; i < size; i++) {
          // Booleans in lists take one byte each (1 = true).
          items.push(
            elementType === 1 || elementType === 2 ? this.#byte() === 1 : this.#value(elementType),
          );
        }
        return items;
      }
      case 11: {
        const size = this.#varint();
        const map = new Map<ThriftValue, ThriftValue>();
        if (size === 0) return map;
        const types = this.#byte();
        for (let i = 0; i < size; i++) map.set(this.#value(types >> 4), this.#value(types & 0x0f));
        return map;
      }
      case 12:
        return this.struct();
      default:
        throw new RangeError(`the footer has an unknown Thrift type ${type}`);
    }
  }

  /** Reads one struct. */
  struct(): ThriftStruct {
    const fields = new Map<number, ThriftValue>();
    let last = 0;
    for (;;) {
      const header = this.#byte();
      if (header === 0) return { fields };
      const delta = header >> 4;
      const id = delta === 0 ? this.#zigzag() : last + delta;
      last = id;
      fields.set(id, this.#value(header & 0x0f));
    }
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });
function text(value: ThriftValue | undefined): string {
  if (!(value instanceof Uint8Array)) return "";
  try {
    return decoder.decode(value);
  } catch (error) {
    throw new RangeError("the footer holds a name or value that is not UTF-8", { cause: error });
  }
}
const isStruct = (v: ThriftValue | undefined): v is ThriftStruct =>
  typeof v === "object" && v !== null && "fields" in v;

function buildSchema(elements: ThriftStruct[]): ParquetSchemaNode[] {
  let index = 0;
  const node = (): ParquetSchemaNode => {
    const element = elements[index++];
    if (element === undefined) throw new RangeError("the footer schema is truncated");
    const type = element.fields.get(1);
    const numChildren = element.fields.get(5);
    const children: ParquetSchemaNode[] = [];
    for (let i = 0; i < (typeof numChildren === "number" ? numChildren : 0); i++) {
      children.push(node());
    }
    return {
      name: text(element.fields.get(4)),
      physicalType: typeof type === "number" ? type : undefined,
      children,
    };
  };
  return node().children;
}

/** Decodes a serialized `FileMetaData` (the footer without its length and magic). */
export function decodeFileMetaData(bytes: Uint8Array): Omit<ParquetFooter, "footerBytes"> {
  const meta = new CompactReader(bytes).struct().fields;
  const schema = meta.get(2);
  const numRows = meta.get(3);
  if (!Array.isArray(schema) || !schema.every(isStruct) || typeof numRows !== "number") {
    throw new RangeError("the footer has no schema or row count");
  }
  const keyValue = new Map<string, string>();
  const kv = meta.get(5);
  if (Array.isArray(kv)) {
    for (const entry of kv) {
      if (isStruct(entry)) keyValue.set(text(entry.fields.get(1)), text(entry.fields.get(2)));
    }
  }
  return { numRows, columns: buildSchema(schema), keyValue };
}

/**
 * Reads the footer of `bucket/key` of `size` bytes with ranged reads.
 *
 * @throws {RangeError} when the object is not a Parquet file or its footer is malformed.
 */
export async function readParquetFooter(
  lake: ObjectStore,
  bucket: string,
  key: string,
  size: number,
): Promise<ParquetFooter> {
  if (size < 12) throw new RangeError(`it has ${size} bytes, too few for a Parquet file`);
  const head = await lake.getBytes(bucket, key, { range: { start: 0, end: 3 } });
  const tail = await lake.getBytes(bucket, key, { range: { start: size - 8, end: size - 1 } });
  const ascii = (b: Uint8Array) => String.fromCharCode(...b);
  if (ascii(head) !== MAGIC || ascii(tail.subarray(4)) !== MAGIC) {
    throw new RangeError("it does not start and end with the Parquet magic 'PAR1'");
  }
  const length = new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true);
  if (length === 0 || length > size - 12 || length > MAX_FOOTER) {
    throw new RangeError(`its footer length ${length} is impossible for a ${size}-byte file`);
  }
  const footer = await lake.getBytes(bucket, key, {
    range: { start: size - 8 - length, end: size - 9 },
  });
  return { ...decodeFileMetaData(footer), footerBytes: length };
}
