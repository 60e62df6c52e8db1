/**
 * `S3ObjectStore`: the server implementation of the object store, for AWS S3,
 * MinIO or any S3-compatible server, through `@aws-sdk/client-s3`.
 *
 * Notes on S3 behaviour the other backends imitate:
 * - User metadata keys travel as `x-amz-meta-*` headers, which S3 lowercases;
 *   every backend lowercases them, so write them lowercase. Values must be
 *   printable ASCII. Names travel with `-` for `_` and read back with `_` for
 *   `-` (OpenStack Swift's s3api and WSGI or nginx front ends cannot keep the
 *   two apart), so `mongodb_doc_id` survives every S3 implementation.
 * - The content's SHA-256 is stored as user metadata `sha256`, sent with the
 *   object itself: in the PUT, or in CreateMultipartUpload for bodies longer
 *   than one part, which are hashed before the upload starts (a buffer in
 *   place; a stream through a spool file, see `spoolDir`). The object never
 *   exists without its hash, and no copy of the object onto itself is made.
 * - `move` is a copy then a delete (S3 has no rename); copies are limited to
 *   5 GiB.
 *
 * @module
 */

import type {
  BucketLocationConstraint,
  CreateBucketCommandInput,
  GetObjectCommandOutput,
  HeadObjectCommandOutput,
  ListObjectsV2CommandOutput,
  S3Client,
} from "@aws-sdk/client-s3";
import { type AwsSdk, awsSdk } from "./_s3_sdk.ts";
import { assertLocations, DerivedOperations, putArguments, sameLocation } from "./_base.ts";
import { assertBody, discardBody } from "./_body.ts";
import { bucketNotFound, location, notFound } from "./_errors.ts";
import { validateBucket, validateKey, validatePrefix } from "./_keys.ts";
import { splitStoredMetadata } from "./_metadata.ts";
import { resolvePageSize } from "./_paging.ts";
import { assertRange, rangeHeader } from "./_range.ts";
import { fromS3Error, isNoSuchBucket, isNotFound, type S3CallContext } from "./_s3_errors.ts";
import { copySource, stripQuotes, uploadFile, uploadObject } from "./_s3_upload.ts";
import { redactUrl } from "../../core/secrets.ts";
import type {
  GetOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectHead,
  ObjectLocation,
  ObjectStore,
  PutOptions,
  PutResult,
} from "./types.ts";

/** Access key pair for S3. */
export interface S3Credentials {
  /** Access key id (MinIO: the root user). */
  accessKeyId: string;
  /** Secret access key; never logged nor put in an error message. */
  secretAccessKey: string;
  /** Session token of temporary credentials. */
  sessionToken?: string;
}

/** Options of {@linkcode S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /**
   * Server URL without credentials, e.g. `http://127.0.0.1:9000` for MinIO.
   *
   * @default {AWS S3 for the region}
   */
  endpoint?: string;
  /**
   * Region used for signing.
   *
   * @default {"us-east-1"}
   */
  region?: string;
  /**
   * Access keys.
   *
   * @default {the AWS SDK chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, profiles...}
   */
  credentials?: S3Credentials;
  /**
   * Address buckets as `endpoint/bucket` rather than `bucket.endpoint`, as
   * MinIO and s3rver need.
   *
   * @default {true when an endpoint is given}
   */
  forcePathStyle?: boolean;
  /**
   * Size of multipart upload parts; bodies longer than one part use
   * multipart. S3 requires at least 5 MiB. Up to two parts are held in memory.
   *
   * @default {8 MiB}
   */
  partSize?: number;
  /**
   * Folder for the spool file of a stream longer than one part: the stream is
   * written there while hashed, so its SHA-256 goes with the upload's
   * metadata, then uploaded from it. The file is unlinked as soon as it is
   * open (nothing stays behind, even after kill -9) and needs room for the
   * whole object.
   *
   * @default {the system temporary folder (TMPDIR, else /tmp)}
   */
  spoolDir?: string;
  /**
   * Milliseconds to wait for a TCP connection before giving up.
   *
   * @default {3000}
   */
  connectTimeoutMs?: number;
  /**
   * Milliseconds to wait for a response (headers) to one request, or for
   * the socket to move during a transfer.
   *
   * @default {30000}
   */
  requestTimeoutMs?: number;
  /**
   * Attempts per request, including the first (the SDK retries with backoff).
   *
   * @default {3}
   */
  maxAttempts?: number;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/**
 * Object store on S3 or an S3-compatible server. Holds an HTTP connection
 * pool: open it with `await using` (or call `[Symbol.asyncDispose]()`).
 *
 * @example MinIO
 * ```ts
 * import { S3ObjectStore } from "./s3.ts";
 * await using store = new S3ObjectStore({
 *   endpoint: "http://127.0.0.1:9000",
 *   credentials: { accessKeyId: "minio", secretAccessKey: "minio123" },
 * });
 * await store.ensureBucket("data-lake");
 * ```
 */
export class S3ObjectStore extends DerivedOperations implements ObjectStore {
  /** Always `"s3"`. */
  readonly backend = "s3" as const;
  /** The endpoint as shown in messages: the URL without credentials, or AWS and the region. */
  readonly endpoint: string;
  /** Signing region. */
  readonly region: string;
  #options: S3ObjectStoreOptions;
  /** The client, created at the first call (the SDK loads then, see `_s3_sdk.ts`). */
  #client: S3Client | undefined;
  #partSize: number;
  #spoolDir: string | undefined;

  /** Creates the client; nothing is contacted until the first call. */
  constructor(options: S3ObjectStoreOptions = {}) {
    super();
    this.region = options.region ?? "us-east-1";
    this.endpoint = options.endpoint === undefined
      ? `AWS S3 (${this.region})`
      : redactUrl(options.endpoint);
    this.#partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.#spoolDir = options.spoolDir;
    if (!Number.isSafeInteger(this.#partSize) || this.#partSize < MIN_PART_SIZE) {
      throw new RangeError(
        `partSize must be an integer of at least ${MIN_PART_SIZE} bytes (5 MiB)`,
      );
    }
    this.#options = options;
  }

  /** The SDK and the client, loaded and created at the first call. */
  async #connect(): Promise<{ sdk: AwsSdk; client: S3Client }> {
    const sdk = await awsSdk();
    this.#client ??= createClient(sdk, this.#options, this.region);
    return { sdk, client: this.#client };
  }

  /** Creates the bucket unless it exists (checked first, so no create right is needed then). */
  async ensureBucket(bucket: string): Promise<void> {
    validateBucket(bucket);
    const context = this.#context("create bucket", bucket);
    const { sdk, client } = await this.#connect();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: bucket }));
      return;
    } catch (error) {
      if (!isNotFound(error) && !isNoSuchBucket(error)) throw fromS3Error(error, context);
    }
    try {
      await client.send(new sdk.CreateBucketCommand(this.#createBucketInput(bucket)));
    } catch (error) {
      const name = (error as { name?: string })?.name;
      if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") return;
      throw fromS3Error(error, context);
    }
  }

  /** Uploads in one PUT, or as a multipart upload for bodies longer than one part. */
  async put(
    bucket: string,
    key: string,
    body: ObjectBody,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const { metadata, contentType } = putArguments(bucket, key, options);
    assertBody(body, location(bucket, key));
    try {
      return await uploadObject((await this.#connect()).client, {
        bucket,
        key,
        body,
        contentType,
        metadata,
        partSize: this.#partSize,
        spoolDir: this.#spoolDir,
      });
    } catch (error) {
      await discardBody(body);
      throw fromS3Error(error, this.#context("write", bucket, key));
    }
  }

  /**
   * Uploads a local file without spooling it: hashed in a first read, then
   * sent from the file itself (one PUT, or a multipart upload of its parts).
   * The file must not change meanwhile.
   */
  override async putFile(
    bucket: string,
    key: string,
    path: string,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const { metadata, contentType } = putArguments(bucket, key, options);
    using file = await Deno.open(path, { read: true });
    const request = {
      bucket,
      key,
      body: new Uint8Array(0),
      contentType,
      metadata,
      partSize: this.#partSize,
      spoolDir: this.#spoolDir,
    };
    try {
      return await uploadFile((await this.#connect()).client, request, file);
    } catch (error) {
      throw fromS3Error(error, this.#context("write", bucket, key));
    }
  }

  /** Starts a GET; the body streams from the connection. */
  async get(bucket: string, key: string, options: GetOptions = {}): Promise<GetResult> {
    validateBucket(bucket);
    validateKey(bucket, key);
    assertRange(options.range);
    const range = options.range === undefined ? {} : { Range: rangeHeader(options.range) };
    const { sdk, client } = await this.#connect();
    try {
      const output = await client.send(
        new sdk.GetObjectCommand({ Bucket: bucket, Key: key, ...range }),
      );
      return toGetResult(output, options.range !== undefined);
    } catch (error) {
      throw fromS3Error(error, this.#context("read", bucket, key));
    }
  }

  /** HEADs the object; a 404 (object or bucket missing) gives `undefined`. */
  async head(bucket: string, key: string): Promise<ObjectHead | undefined> {
    validateBucket(bucket);
    validateKey(bucket, key);
    const { sdk, client } = await this.#connect();
    try {
      return toHead(await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key })));
    } catch (error) {
      if (isNotFound(error) || isNoSuchBucket(error)) return undefined;
      throw fromS3Error(error, this.#context("describe", bucket, key));
    }
  }

  /** One ListObjectsV2 call; the continuation token is S3's own. */
  async list(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    validateBucket(bucket);
    validatePrefix(bucket, options.prefix ?? "");
    const { sdk, client } = await this.#connect();
    try {
      const output = await client.send(
        new sdk.ListObjectsV2Command({
          Bucket: bucket,
          MaxKeys: resolvePageSize(options.pageSize),
          ...(options.prefix ? { Prefix: options.prefix } : {}),
          ...(options.delimiter ? { Delimiter: options.delimiter } : {}),
          ...(options.continuationToken ? { ContinuationToken: options.continuationToken } : {}),
        }),
      );
      return toListPage(output);
    } catch (error) {
      throw fromS3Error(error, this.#context("list", bucket));
    }
  }

  /** Server-side copy keeping content type and metadata (S3 limits it to 5 GiB). */
  async copy(from: ObjectLocation, to: ObjectLocation): Promise<void> {
    assertLocations(from, to);
    if (sameLocation(from, to)) {
      // S3 refuses a copy onto itself that changes nothing; only check it exists.
      if (await this.head(from.bucket, from.key) === undefined) {
        throw notFound(from.bucket, from.key);
      }
      return;
    }
    const { sdk, client } = await this.#connect();
    try {
      await client.send(
        new sdk.CopyObjectCommand({
          Bucket: to.bucket,
          Key: to.key,
          CopySource: copySource(from.bucket, from.key),
          MetadataDirective: "COPY",
        }),
      );
    } catch (error) {
      throw await this.#copyError(error, from, to);
    }
  }

  /** S3 has no rename: copies, then deletes the source (not atomic). */
  async move(from: ObjectLocation, to: ObjectLocation): Promise<void> {
    assertLocations(from, to);
    await this.copy(from, to);
    if (!sameLocation(from, to)) await this.delete(from.bucket, from.key);
  }

  /** Deletes the object; S3 answers success for a missing key, and so do we for a missing bucket. */
  async delete(bucket: string, key: string): Promise<void> {
    validateBucket(bucket);
    validateKey(bucket, key);
    const { sdk, client } = await this.#connect();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (isNoSuchBucket(error)) return;
      throw fromS3Error(error, this.#context("delete", bucket, key));
    }
  }

  /** Closes the connection pool. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#client?.destroy();
    return Promise.resolve();
  }

  // NoSuchBucket does not say which of the two buckets is missing: the source
  // object's existence tells (a missing source key would be NoSuchKey instead).
  async #copyError(error: unknown, from: ObjectLocation, to: ObjectLocation): Promise<unknown> {
    if (!isNoSuchBucket(error)) {
      return fromS3Error(error, this.#context("copy", from.bucket, from.key));
    }
    const source = await this.head(from.bucket, from.key).catch(() => undefined);
    return source === undefined
      ? bucketNotFound(from.bucket, "copy from", from.key)
      : bucketNotFound(to.bucket, "copy to", to.key);
  }

  // us-east-1 is the one region where S3 rejects an explicit location constraint.
  #createBucketInput(bucket: string): CreateBucketCommandInput {
    if (this.region === "us-east-1") return { Bucket: bucket };
    const LocationConstraint = this.region as BucketLocationConstraint;
    return { Bucket: bucket, CreateBucketConfiguration: { LocationConstraint } };
  }

  #context(action: string, bucket: string, key?: string): S3CallContext {
    const context: S3CallContext = { action, bucket, endpoint: this.endpoint };
    if (key !== undefined) context.key = key;
    return context;
  }
}

function createClient(sdk: AwsSdk, options: S3ObjectStoreOptions, region: string): S3Client {
  const endpoint = options.endpoint;
  return new sdk.S3Client({
    region,
    maxAttempts: options.maxAttempts ?? 3,
    ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: options.forcePathStyle ?? true }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    // Checksums only where S3 requires them: MinIO versions and s3rver differ in
    // their support of the newer checksum headers; we record our own sha256.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // The SDK's default user agent reads os.release(), a `sys` permission the narrowed tasks
    // do not grant (launch.ts): every call then failed 'Requires sys access to "osRelease"'.
    defaultUserAgentProvider: () => Promise.resolve([["deno-data-platform"], ["lang/js"]]),
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? 3000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      socketTimeout: options.requestTimeoutMs ?? 30_000,
      throwOnRequestTimeout: true,
    },
  });
}

function toHead(output: HeadObjectCommandOutput | GetObjectCommandOutput): ObjectHead {
  const { sha256, metadata } = splitStoredMetadata(output.Metadata);
  const head: ObjectHead = {
    size: output.ContentLength ?? 0,
    etag: stripQuotes(output.ETag),
    lastModified: output.LastModified ?? new Date(0),
    metadata,
  };
  if (sha256 !== undefined) head.sha256 = sha256;
  if (output.ContentType !== undefined) head.contentType = output.ContentType;
  return head;
}

function toGetResult(output: GetObjectCommandOutput, ranged: boolean): GetResult {
  const body = output.Body?.transformToWebStream() as ReadableStream<Uint8Array> | undefined;
  const result: GetResult = {
    ...toHead(output),
    body: body ?? new ReadableStream({ start: (c) => c.close() }),
  };
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(output.ContentRange ?? "");
  if (match !== null) {
    result.size = Number(match[3]);
    if (ranged) result.range = { start: Number(match[1]), end: Number(match[2]) };
  }
  return result;
}

function toListPage(output: ListObjectsV2CommandOutput): ListPage {
  const page: ListPage = {
    objects: (output.Contents ?? []).map((item) => ({
      key: item.Key ?? "",
      size: item.Size ?? 0,
      etag: stripQuotes(item.ETag),
      lastModified: item.LastModified ?? new Date(0),
    })),
    prefixes: (output.CommonPrefixes ?? []).flatMap((
      p,
    ) => (p.Prefix === undefined ? [] : [p.Prefix])),
  };
  if (output.IsTruncated && output.NextContinuationToken) {
    page.nextContinuationToken = output.NextContinuationToken;
  }
  return page;
}
