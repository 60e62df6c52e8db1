/**
 * The server ledger: MongoDB through `npm:mongodb`, with the collection
 * validated by a `$jsonSchema` generated from the zod schema.
 *
 * @module
 */

import {
  type Collection,
  type Db,
  type Document,
  type Filter,
  Long,
  MongoClient,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
} from "mongodb";
import type { Clock } from "../../core/clock.ts";
import { ConfigError, PlatformError, ResourceError, toError } from "../../core/errors.ts";
import { LedgerBase, type LedgerFilter } from "./_base.ts";
import {
  type LedgerDocument,
  ledgerMongoValidator,
  type ValidLedgerDocumentInput,
} from "./schema.ts";
import { parseStored, planUpsert, requireString, type ValidScan } from "./_shared.ts";
import { redactUrl, registerSecret, urlSecrets } from "../../core/secrets.ts";

/** Options of {@linkcode openMongoLedger}. */
export interface MongoLedgerOptions {
  /**
   * Database holding the collection.
   * @default the database in the URI path, else `platform`
   */
  readonly database?: string;
  /**
   * Collection holding the documents.
   * @default "ledger"
   */
  readonly collection?: string;
  /**
   * How long to look for a server before failing with `ledger.unreachable`,
   * in milliseconds. A `serverSelectionTimeoutMS` in the URI wins.
   * @default 3000
   */
  readonly serverSelectionTimeoutMS?: number;
  /**
   * Source of `created_at` / `updated_at`.
   * @default the system clock
   */
  readonly clock?: Clock;
}

const DUPLICATE_KEY = 11000;
const NAMESPACE_EXISTS = 48;
const INDEXES = [
  { key: { bucket: 1, key: 1, sha256: 1 }, name: "bucket_key_sha256", unique: true },
  { key: { bucket: 1, key: 1, updated_at: -1, _id: -1 }, name: "bucket_key_latest" },
  { key: { sha256: 1 }, name: "sha256" },
  { key: { run_id: 1 }, name: "run_id" },
  { key: { batch_id: 1 }, name: "batch_id" },
  { key: { asset_key: 1, partition: 1 }, name: "asset_partition" },
];
/** A document as MongoDB holds it: `_id` is the ledger id; the rest is checked by zod. */
type Stored = { _id: string; [field: string]: unknown };

const LIST_ORDER = { created_at: 1, _id: 1 } as const;
const LATEST_ORDER = { updated_at: -1, _id: -1 } as const;

/**
 * Connects to MongoDB and returns a ledger over one collection, creating the
 * collection with the generated validator (or updating the validator with
 * `collMod` when it exists) and its indexes.
 *
 * @throws {ConfigError} `ledger.invalid_url` when the URI cannot be parsed.
 * @throws {ResourceError} `ledger.unreachable` when no server answers in time.
 *
 * @example
 * ```ts
 * import { openMongoLedger } from "./mongodb.ts";
 * await using ledger = await openMongoLedger("mongodb://localhost:27017/platform");
 * await ledger.ping();
 * ```
 */
export async function openMongoLedger(
  uri: string,
  options: MongoLedgerOptions = {},
): Promise<MongoLedger> {
  requireString("open", "uri", uri);
  const where = redactUrl(uri); // registers the password before any driver message can repeat it
  const client = createClient(uri, options);
  try {
    await client.connect();
    const db = client.db(options.database ?? databaseOf(uri) ?? "platform");
    const collection = await prepareCollection(db, options.collection ?? "ledger");
    return new MongoLedger(client, collection, where, options.clock, uri);
  } catch (error) {
    await client.close().catch(() => {});
    throw translate(error, `open the ledger at ${where}`, uri);
  }
}

/**
 * A {@linkcode Ledger} in a MongoDB collection. Each document is stored with
 * `_id` equal to its `id`, and `size` as a 64-bit integer. Open it with
 * {@linkcode openMongoLedger}.
 *
 * Without transactions (a standalone server has none), two processes
 * upserting the same triple at once still store one document (the unique
 * index decides), but which of two versions of a key written in the same
 * millisecond is "latest" is decided by id order.
 */
export class MongoLedger extends LedgerBase {
  /** The URI without its password. */
  readonly description: string;
  readonly #client: MongoClient;
  readonly #collection: Collection<Stored>;
  readonly #uri: string;
  #closed = false;

  /** Wraps a connected collection; use {@linkcode openMongoLedger} instead. */
  constructor(
    client: MongoClient,
    collection: Collection<Stored>,
    description: string,
    clock: Clock | undefined,
    uri: string,
  ) {
    super(clock);
    this.#client = client;
    this.#collection = collection;
    this.description = description;
    this.#uri = uri;
  }

  /** Closes the client; later calls fail with `ledger.closed`. Safe to repeat. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close();
  }

  /** Whether the client was closed. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** Keeps, touches or inserts; the unique index settles a race with another writer. */
  protected async store(valid: ValidLedgerDocumentInput): Promise<LedgerDocument> {
    const { bucket, key, sha256 } = valid;
    // A concurrent writer can insert the same triple between our read and our
    // insert; the unique index refuses ours, and the next round returns theirs.
    for (let round = 0; round < 3; round++) {
      const existing = await this.#one({ bucket, key, sha256 });
      const latest = await this.#one({ bucket, key }, LATEST_ORDER);
      const plan = planUpsert(valid, existing, latest, this.clock.now());
      if (plan.action === "keep") return plan.doc;
      if (plan.action === "touch") {
        await this.#collection.updateOne({ _id: plan.doc.id }, {
          $set: { updated_at: plan.doc.updated_at },
        });
        return plan.doc;
      }
      if (await this.#insert(plan.doc)) return plan.doc;
    }
    throw new ResourceError(
      "ledger.conflict",
      `Cannot record '${bucket}/${key}' in ${this.description}: other writers kept changing ` +
        "it; retry the run",
      { resourceKey: "ledger", input: `${bucket}/${key}` },
    );
  }

  /** The document with this id. */
  protected readById(id: string): Promise<LedgerDocument | undefined> {
    return this.#one({ _id: id });
  }

  /** The latest version of (bucket, key). */
  protected readLatest(bucket: string, key: string): Promise<LedgerDocument | undefined> {
    return this.#one({ bucket, key }, LATEST_ORDER);
  }

  /** The documents matching `filter`, oldest first. */
  protected async readWhere(filter: LedgerFilter): Promise<LedgerDocument[]> {
    const query: Filter<Stored> = { [filter.field]: filter.value };
    if (filter.field === "asset_key" && filter.partition !== undefined) {
      query.partition = filter.partition;
    }
    const raws = await this.#collection.find(query, { sort: LIST_ORDER }).toArray();
    return raws.map((raw) => this.#parse(raw));
  }

  /** One page of documents by id (`_id` is the ledger id and always indexed: keyset paging). */
  protected async readPage({ bucket, after, limit }: ValidScan): Promise<LedgerDocument[]> {
    const filter: Filter<Stored> = { _id: { $gt: after } };
    if (bucket !== undefined) filter.bucket = bucket;
    const raws = await this.#collection.find(filter, { sort: { _id: 1 }, limit }).toArray();
    return raws.map((raw) => this.#parse(raw));
  }

  /** Deletes a document. */
  protected async remove(id: string): Promise<boolean> {
    const result = await this.#collection.deleteOne({ _id: id });
    return result.deletedCount > 0;
  }

  /** A `ping` command. */
  protected async check(): Promise<void> {
    await this.#collection.db.command({ ping: 1 });
  }

  /** Driver failures as typed errors whose text never holds the password. */
  protected translate(action: string, error: unknown): unknown {
    return translate(error, `${action} in ${this.description}`, this.#uri);
  }

  async #one(
    filter: Filter<Stored>,
    sort: Record<string, 1 | -1> = {},
  ): Promise<LedgerDocument | undefined> {
    const raw = await this.#collection.findOne(filter, { sort });
    return raw === null ? undefined : this.#parse(raw);
  }

  /** Inserts a new document; `false` when the triple was inserted meanwhile. */
  async #insert(doc: LedgerDocument): Promise<boolean> {
    try {
      await this.#collection.insertOne({ _id: doc.id, ...doc, size: Long.fromNumber(doc.size) });
      return true;
    } catch (error) {
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return false;
      throw error;
    }
  }

  #parse(raw: Stored): LedgerDocument {
    const { _id, ...rest } = raw;
    const id = typeof rest.id === "string" ? rest.id : String(_id);
    return parseStored(rest, id, this.description);
  }
}

function createClient(uri: string, options: MongoLedgerOptions): MongoClient {
  const timeout = options.serverSelectionTimeoutMS ?? 3000;
  // Options given here would override the URI's; the URI should win.
  const fromUri = /[?&]serverSelectionTimeoutMS=/i.test(uri);
  try {
    return new MongoClient(uri, {
      appName: "platform-ledger",
      ...(fromUri ? {} : { serverSelectionTimeoutMS: timeout }),
      // Long sizes come back as JS numbers (exact below 2^53).
      promoteLongs: true,
    });
  } catch (error) {
    // The constructor only parses (the URI through more than one parser, so
    // not always a MongoParseError): anything it throws is a bad URI.
    const reason = toError(error).message;
    throw new ConfigError(
      "ledger.invalid_url",
      `Cannot open the ledger at ${redactUrl(uri)}: the MongoDB URI is malformed (${reason}); ` +
        "expected mongodb://host[:port]/database (user and password, percent-encoded, before the host)",
      { resourceKey: "ledger", cause: error },
    );
  }
}

/** The database in a MongoDB URI path (`mongodb://host/<db>?...`), if any. */
function databaseOf(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?#]*\/([^?#]+)/i.exec(uri);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}

async function prepareCollection(db: Db, name: string): Promise<Collection<Stored>> {
  const rules = {
    validator: ledgerMongoValidator(),
    validationLevel: "strict",
    validationAction: "error",
  } as const;
  const exists = (await db.listCollections({ name }, { nameOnly: true }).toArray()).length > 0;
  // collMod brings an existing collection's validator up to the current schema.
  if (exists || !(await createIfAbsent(db, name, rules))) {
    await db.command({ collMod: name, ...rules });
  }
  const collection = db.collection<Stored>(name);
  await collection.createIndexes(INDEXES);
  return collection;
}

/** Creates the collection; `false` when another process created it first. */
async function createIfAbsent(db: Db, name: string, rules: Document): Promise<boolean> {
  try {
    await db.createCollection(name, rules);
    return true;
  } catch (error) {
    if (error instanceof MongoServerError && error.code === NAMESPACE_EXISTS) return false;
    throw error;
  }
}

/**
 * Turns a driver failure into a typed error; platform errors redact their
 * text and cause (core/secrets.ts), and `uri`'s password is registered first.
 */
function translate(error: unknown, action: string, uri: string): unknown {
  if (error instanceof PlatformError || error instanceof TypeError) return error;
  if (error instanceof RangeError) return error;
  registerSecret(...urlSecrets(uri));
  const reason = toError(error).message;
  const cause = error;
  if (error instanceof MongoServerSelectionError || error instanceof MongoNetworkError) {
    return new ResourceError(
      "ledger.unreachable",
      `Cannot ${action}: no MongoDB server answered (${reason}); check that the server runs ` +
        "and that the ledger URL (LEDGER_URL) points at it",
      { resourceKey: "ledger", cause },
    );
  }
  return new ResourceError("ledger.storage_failed", `Cannot ${action}: ${reason}`, {
    resourceKey: "ledger",
    cause,
  });
}
