/**
 * Metadata attached to materializations and check results.
 *
 * @module
 */

/** A JSON value: what an asset may report about what it wrote. */
export type MetadataValue =
  | string
  | number
  | boolean
  | null
  | readonly MetadataValue[]
  | { readonly [key: string]: MetadataValue };

/** Named metadata values, e.g. `{ rows: 120, keys: ["a.json"], bbox: [..] }`. */
export type Metadata = Readonly<Record<string, MetadataValue>>;

/** Throws `TypeError` when `value` cannot be stored as JSON metadata. */
export function assertMetadata(value: unknown, where: string): asserts value is Metadata {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${where} must return an object of metadata, got ${describe(value)}`);
  }
  for (const [key, entry] of Object.entries(value)) {
    assertValue(entry, `${where}: metadata '${key}'`);
  }
}

function assertValue(value: unknown, where: string): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return;
    throw new TypeError(`${where} is ${value}; metadata numbers must be finite`);
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertValue(item, `${where}[${i}]`));
    return;
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, entry] of Object.entries(value)) assertValue(entry, `${where}.${key}`);
    return;
  }
  throw new TypeError(`${where} is ${describe(value)}; metadata must be JSON values`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return value.constructor?.name ?? "an object";
  return typeof value;
}
