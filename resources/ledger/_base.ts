/**
 * {@linkcode LedgerBase}: what every ledger backend does around its storage,
 * written once: refuse calls once closed, check every argument before any
 * I/O, turn "no such document" into `ledger.not_found`, and translate the
 * backend's failures into typed errors. A backend implements only the
 * storage operations (as `object_store/_base.ts` and the run store's base do).
 *
 * @module
 */

import { type Clock, systemClock } from "../../core/clock.ts";
import type { LedgerDocument, LedgerDocumentInput, ValidLedgerDocumentInput } from "./schema.ts";
import type { FindByAssetOptions, Ledger, ScanOptions } from "./types.ts";
import {
  closedError,
  notFound,
  requirePartition,
  requireScan,
  requireSha256,
  requireString,
  validateInput,
  type ValidScan,
} from "./_shared.ts";

/** A lookup by a field; every backend answers it oldest first (`created_at`, then `id`). */
export type LedgerFilter =
  | { readonly field: "sha256"; readonly value: string }
  | { readonly field: "run_id"; readonly value: string }
  | { readonly field: "batch_id"; readonly value: string }
  | {
    readonly field: "asset_key";
    readonly value: string;
    /** Only this partition (`null`: unpartitioned documents); `undefined` for every one. */
    readonly partition: string | null | undefined;
  };

/**
 * The shared half of a {@linkcode Ledger}; subclasses implement the
 * protected storage operations.
 *
 * @example
 * ```ts
 * import { MemoryLedger } from "./memory.ts";
 * import { LedgerBase } from "./_base.ts";
 * await using ledger = new MemoryLedger();
 * ledger instanceof LedgerBase; // true
 * await ledger.get("").catch((error) => error instanceof TypeError); // true
 * ```
 */
export abstract class LedgerBase implements Ledger {
  /** Backend and location, e.g. `sqlite .state/ledger.db`. */
  abstract readonly description: string;
  /** Source of `created_at` / `updated_at`. */
  protected readonly clock: Clock;

  /** Sets the clock every backend stamps documents with. */
  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  /** See {@linkcode Ledger.upsert}. */
  upsert(input: LedgerDocumentInput): Promise<LedgerDocument> {
    return this.run("record a document", () => this.store(validateInput(input)));
  }

  /** See {@linkcode Ledger.get}. */
  get(id: string): Promise<LedgerDocument> {
    return this.run("read a document", async () => {
      const doc = await this.readById(requireString("get", "id", id));
      if (doc === undefined) throw notFound(id, this.description);
      return doc;
    });
  }

  /** See {@linkcode Ledger.findByKey}. */
  findByKey(bucket: string, key: string): Promise<LedgerDocument | undefined> {
    return this.run("find a document by key", () => {
      requireString("findByKey", "bucket", bucket);
      requireString("findByKey", "key", key);
      return this.readLatest(bucket, key);
    });
  }

  /** See {@linkcode Ledger.findByHash}. */
  findByHash(sha256: string): Promise<LedgerDocument[]> {
    return this.run(
      "find documents by hash",
      () => this.readWhere({ field: "sha256", value: requireSha256(sha256) }),
    );
  }

  /** See {@linkcode Ledger.findByRun}. */
  findByRun(runId: string): Promise<LedgerDocument[]> {
    return this.run(
      "find documents by run",
      () => this.readWhere({ field: "run_id", value: requireString("findByRun", "runId", runId) }),
    );
  }

  /** See {@linkcode Ledger.findByBatch}. */
  findByBatch(batchId: string): Promise<LedgerDocument[]> {
    return this.run("find documents by batch", () =>
      this.readWhere({
        field: "batch_id",
        value: requireString("findByBatch", "batchId", batchId),
      }));
  }

  /** See {@linkcode Ledger.findByAsset}. */
  findByAsset(assetKey: string, options?: FindByAssetOptions): Promise<LedgerDocument[]> {
    return this.run("find documents by asset", () => {
      const value = requireString("findByAsset", "assetKey", assetKey);
      return this.readWhere({ field: "asset_key", value, partition: requirePartition(options) });
    });
  }

  /** See {@linkcode Ledger.scan}. */
  scan(options?: ScanOptions): Promise<LedgerDocument[]> {
    return this.run("scan documents", () => this.readPage(requireScan(options)));
  }

  /** See {@linkcode Ledger.delete}. */
  delete(id: string): Promise<boolean> {
    return this.run("delete a document", () => this.remove(requireString("delete", "id", id)));
  }

  /** See {@linkcode Ledger.ping}. */
  ping(): Promise<void> {
    return this.run("ping", () => this.check());
  }

  /** Closes the backend; later calls fail with `ledger.closed`. Safe to repeat. */
  abstract [Symbol.asyncDispose](): Promise<void>;

  /** Whether the ledger was closed. */
  protected abstract get closed(): boolean;
  /** Records a valid input (keep, touch or insert, see `planUpsert`), stamping with `clock`. */
  protected abstract store(input: ValidLedgerDocumentInput): Promise<LedgerDocument>;
  /** The document with this id. */
  protected abstract readById(id: string): Promise<LedgerDocument | undefined>;
  /** The latest version of (bucket, key): greatest `updated_at`, then `id`. */
  protected abstract readLatest(bucket: string, key: string): Promise<LedgerDocument | undefined>;
  /** The documents matching `filter`, oldest first. */
  protected abstract readWhere(filter: LedgerFilter): Promise<LedgerDocument[]>;
  /** One page of documents by id. */
  protected abstract readPage(scan: ValidScan): Promise<LedgerDocument[]>;
  /** Deletes a document; whether it existed. */
  protected abstract remove(id: string): Promise<boolean>;
  /** Checks the backend answers. */
  protected abstract check(): Promise<void>;
  /** The typed error for a failure of `action` (typed errors and bad arguments pass through). */
  protected abstract translate(action: string, error: unknown): unknown;

  /** Runs one operation: refuses after close; failures come back typed. */
  protected async run<T>(action: string, work: () => Promise<T> | T): Promise<T> {
    if (this.closed) throw closedError(this.description);
    try {
      return await work();
    } catch (error) {
      throw this.translate(action, error);
    }
  }
}
