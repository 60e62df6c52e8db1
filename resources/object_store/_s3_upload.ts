/**
 * Atomic uploads to S3. A body that fits in one part goes up in a single PUT;
 * a longer one goes up as a multipart upload, which S3 shows at the key only
 * once completed, and which is aborted if anything fails so no parts linger.
 *
 * The SHA-256 is part of the object's metadata from the first request on:
 * a multipart upload fixes its metadata when it is created, so the hash must
 * be known before that. A buffer is hashed first; a stream longer than one
 * part is first written to a spool file (unlinked at once, so a crash leaves
 * nothing behind) while it is hashed, then uploaded part by part from it.
 * There is deliberately no "copy the object onto itself to add the hash"
 * step: servers differ in how they answer such a copy (OpenStack Swift
 * refuses the `CopySourceIfMatch` of a multipart etag with 412), and a
 * metadata write that can fail after the data is in place means `put` either
 * swallows the failure or reports a write that half happened.
 *
 * After a multipart upload completes, one HEAD checks that the object carries
 * the hash and metadata that were sent (unless a later writer already replaced
 * it): a server that drops multipart metadata fails the put loudly, and the
 * object without its `sha256` is deleted again. Over an existing object that
 * deletion would lose the old object too, so there a one-byte multipart
 * upload with the same metadata to a reserved scratch key comes first: a
 * server that drops it fails the put before anything is written at the key.
 *
 * @module
 */

import type { S3Client } from "@aws-sdk/client-s3";
// The command classes come from awsSdk() (loaded on first use, see _s3_sdk.ts;
// already loaded here, as the client was created from it).
import { awsSdk } from "./_s3_sdk.ts";
import { ContentHasher, fixedParts, hashedChunks } from "./_body.ts";
import { storeError } from "./_errors.ts";
import { RESERVED_SEGMENT_PREFIX } from "./_keys.ts";
import { SHA256_KEY, splitStoredMetadata, wireMetadata } from "./_metadata.ts";
import type { ObjectBody, PutResult } from "./types.ts";
import { toError } from "../../core/errors.ts";

/** What to upload, already validated. */
export interface UploadRequest {
  bucket: string;
  key: string;
  body: ObjectBody;
  contentType: string;
  metadata: Record<string, string>;
  partSize: number;
  /** Folder for the spool file of streams longer than one part. */
  spoolDir: string | undefined;
}

/** Where the parts of a multipart upload are read from, one part at a time. */
interface PartSource {
  size: number;
  sha256: string;
  parts(): AsyncIterable<Uint8Array>;
}

/** Uploads a body in one PUT or as a multipart upload, with its SHA-256 in its metadata. */
export async function uploadObject(client: S3Client, request: UploadRequest): Promise<PutResult> {
  if (request.body instanceof Uint8Array) return await uploadBytes(client, request, request.body);
  const hasher = new ContentHasher();
  const parts = fixedParts(hashedChunks(request.body, hasher), request.partSize);
  try {
    const first = await parts.next();
    const second = await parts.next();
    const head = first.done ? new Uint8Array(0) : first.value;
    if (second.done) return await putSingle(client, request, head, hasher.digest());
    await using spool = await Spool.create(request.spoolDir, `${request.bucket}/${request.key}`);
    await spool.write(head);
    await spool.write(second.value);
    for (let next = await parts.next(); !next.done; next = await parts.next()) {
      await spool.write(next.value);
    }
    const source: PartSource = {
      size: hasher.size,
      sha256: hasher.digest(),
      parts: () => spool.parts(request.partSize),
    };
    return await putMultipart(client, request, source);
  } finally {
    await parts.return(undefined); // Cancels the caller's stream if we stopped early.
  }
}

async function uploadBytes(
  client: S3Client,
  request: UploadRequest,
  bytes: Uint8Array,
): Promise<PutResult> {
  const hasher = new ContentHasher();
  hasher.update(bytes);
  const sha256 = hasher.digest();
  if (bytes.byteLength <= request.partSize) return await putSingle(client, request, bytes, sha256);
  const partSize = request.partSize;
  return await putMultipart(client, request, {
    size: bytes.byteLength,
    sha256,
    async *parts() {
      for (let offset = 0; offset < bytes.byteLength; offset += partSize) {
        yield bytes.subarray(offset, offset + partSize);
      }
    },
  });
}

function storedMetadata(request: UploadRequest, sha256: string): Record<string, string> {
  return wireMetadata({ ...request.metadata, [SHA256_KEY]: sha256 });
}

async function putSingle(
  client: S3Client,
  request: UploadRequest,
  bytes: Uint8Array,
  sha256: string,
): Promise<PutResult> {
  const { PutObjectCommand } = await awsSdk();
  const output = await client.send(
    new PutObjectCommand({
      Bucket: request.bucket,
      Key: request.key,
      Body: bytes,
      ContentLength: bytes.byteLength,
      ContentType: request.contentType,
      Metadata: storedMetadata(request, sha256),
    }),
  );
  return { etag: stripQuotes(output.ETag), size: bytes.byteLength, sha256 };
}

async function putMultipart(
  client: S3Client,
  request: UploadRequest,
  source: PartSource,
): Promise<PutResult> {
  // Over an existing object, first see on a scratch key that this server keeps the
  // metadata of a multipart upload: found out only after completing over the key, the
  // object without its hash would have to be deleted, and the old one would be lost.
  if (await exists(client, request.bucket, request.key)) {
    await probeMultipartMetadata(client, request, source.sha256);
  }
  const etag = await completeMultipart(client, request, request.key, source);
  await verifyMetadata(client, request, etag, source.sha256);
  return { etag, size: source.size, sha256: source.sha256 };
}

/** Uploads `source` to `key` as a multipart upload with the request's metadata; its etag. */
async function completeMultipart(
  client: S3Client,
  request: UploadRequest,
  key: string,
  source: Pick<PartSource, "sha256" | "parts">,
): Promise<string> {
  const {
    AbortMultipartUploadCommand,
    CompleteMultipartUploadCommand,
    CreateMultipartUploadCommand,
  } = await awsSdk();
  const { Bucket, Key } = { Bucket: request.bucket, Key: key };
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key,
      ContentType: request.contentType,
      Metadata: storedMetadata(request, source.sha256),
    }),
  );
  const UploadId = created.UploadId;
  try {
    const uploaded = await uploadParts(client, { Bucket, Key, UploadId }, source.parts());
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: uploaded },
      }),
    );
    return stripQuotes(completed.ETag);
  } catch (error) {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
    throw error;
  }
}

async function exists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  const { HeadObjectCommand } = await awsSdk();
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(
    (error: unknown) => {
      if (httpStatus(error) === 404) return undefined;
      throw error;
    },
  );
  return head !== undefined;
}

/**
 * A one-byte multipart upload with the request's metadata to a scratch key
 * next to it (a reserved name, never a user's key), read back and deleted:
 * throws `metadata_lost` when the server did not keep the metadata, before
 * anything is written at the request's key.
 */
async function probeMultipartMetadata(
  client: S3Client,
  request: UploadRequest,
  sha256: string,
): Promise<void> {
  const { DeleteObjectCommand, HeadObjectCommand } = await awsSdk();
  const folder = request.key.includes("/")
    ? request.key.slice(0, request.key.lastIndexOf("/") + 1)
    : "";
  const probe = `${folder}${RESERVED_SEGMENT_PREFIX}probe-${crypto.randomUUID()}`;
  let lost: string[];
  try {
    const etag = await completeMultipart(client, request, probe, {
      sha256,
      parts: async function* () {
        yield new Uint8Array(1);
      },
    });
    const head = await client.send(new HeadObjectCommand({ Bucket: request.bucket, Key: probe }));
    lost = stripQuotes(head.ETag) === etag ? lostMetadata(head.Metadata, request, sha256) : [];
  } finally {
    await client.send(new DeleteObjectCommand({ Bucket: request.bucket, Key: probe }))
      .catch(() => {});
  }
  if (lost.length === 0) return;
  const input = `${request.bucket}/${request.key}`;
  throw storeError(
    "metadata_lost",
    `Cannot write '${input}' as a multipart upload: the server does not keep the metadata of ` +
      `CreateMultipartUpload (${lost.join(", ")} missing or different on a one-byte trial ` +
      `upload), so the object already at '${input}' was left as it was. Use an S3 server that ` +
      `keeps it (or a part size larger than the object).`,
    input,
  );
}

/** The names of the request's metadata (and the hash) that `stored` lacks or has otherwise. */
function lostMetadata(
  stored: Record<string, string> | undefined,
  request: UploadRequest,
  sha256: string,
): string[] {
  const split = splitStoredMetadata(stored);
  return Object.entries({ ...request.metadata, [SHA256_KEY]: sha256 })
    .filter(([name, value]) =>
      (name === SHA256_KEY ? split.sha256 : split.metadata[name]) !== value
    )
    .map(([name]) => name);
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

interface UploadTarget {
  Bucket: string;
  Key: string;
  UploadId: string | undefined;
}

async function uploadParts(
  client: S3Client,
  target: UploadTarget,
  parts: AsyncIterable<Uint8Array>,
): Promise<{ ETag: string | undefined; PartNumber: number }[]> {
  const { UploadPartCommand } = await awsSdk();
  const uploaded: { ETag: string | undefined; PartNumber: number }[] = [];
  for await (const Body of parts) {
    // The final part may be empty when the length is a multiple of the part size.
    if (Body.byteLength === 0 && uploaded.length > 0) continue;
    const PartNumber = uploaded.length + 1;
    const output = await client.send(
      new UploadPartCommand({ ...target, PartNumber, Body, ContentLength: Body.byteLength }),
    );
    uploaded.push({ ETag: output.ETag, PartNumber });
  }
  return uploaded;
}

// The object we completed must carry what we sent. An object with another
// etag is a later writer's (last writer wins): nothing of ours to check.
async function verifyMetadata(
  client: S3Client,
  request: UploadRequest,
  etag: string,
  sha256: string,
): Promise<void> {
  const { DeleteObjectCommand, HeadObjectCommand } = await awsSdk();
  const head = await client.send(
    new HeadObjectCommand({ Bucket: request.bucket, Key: request.key }),
  )
    .catch((error: unknown) => {
      // Deleted by someone else right after completion: nothing left to check.
      if (httpStatus(error) === 404) return undefined;
      throw error;
    });
  if (head === undefined || stripQuotes(head.ETag) !== etag) return;
  const lost = lostMetadata(head.Metadata, request, sha256);
  if (lost.length === 0) return;
  // An object without its hash and ids must not stay: a failed put leaves nothing.
  const removed = await client.send(
    new DeleteObjectCommand({ Bucket: request.bucket, Key: request.key }),
  ).then(
    () => "it was deleted again",
    (error: unknown) => `deleting it failed too (${toError(error).message})`,
  );
  const input = `${request.bucket}/${request.key}`;
  throw storeError(
    "metadata_lost",
    `Wrote '${input}' as a multipart upload, but the server did not keep its metadata ` +
      `(${lost.join(", ")} missing or different), so ${removed}. Check that the S3 server ` +
      `keeps the metadata of CreateMultipartUpload (or use a part size larger than the object).`,
    input,
  );
}

/**
 * A temporary file holding a stream being uploaded, unlinked as soon as it
 * is open: the open handle keeps it readable, and it vanishes with the
 * process whatever way it ends.
 */
class Spool implements AsyncDisposable {
  #file: Deno.FsFile;
  #where: string;
  #input: string;

  private constructor(file: Deno.FsFile, where: string, input: string) {
    this.#file = file;
    this.#where = where;
    this.#input = input;
  }

  /** Opens a spool in `dir` (the system's temporary folder by default) for the object `input`. */
  static async create(dir: string | undefined, input: string): Promise<Spool> {
    const where = dir ?? "the temporary folder";
    try {
      const path = await Deno.makeTempFile({
        prefix: "object-store-upload-",
        ...(dir === undefined ? {} : { dir }),
      });
      const file = await Deno.open(path, { read: true, write: true });
      await Deno.remove(path).catch(() => {}); // Unlinked: the handle keeps the bytes.
      return new Spool(file, where, input);
    } catch (error) {
      throw spoolError(error, where, input);
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    try {
      let written = 0;
      while (written < chunk.byteLength) {
        written += await this.#file.write(chunk.subarray(written));
      }
    } catch (error) {
      throw spoolError(error, this.#where, this.#input);
    }
  }

  /** Reads the spool back from its start in parts of `partSize` bytes. */
  parts(partSize: number): AsyncGenerator<Uint8Array> {
    return fileParts(this.#file, partSize);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.#file.close();
    return Promise.resolve();
  }
}

/** Reads an open file from its start in parts of `partSize` bytes (one part in memory). */
async function* fileParts(file: Deno.FsFile, partSize: number): AsyncGenerator<Uint8Array> {
  await file.seek(0, Deno.SeekMode.Start);
  while (true) {
    const part = new Uint8Array(partSize);
    let filled = 0;
    while (filled < partSize) {
      const read = await file.read(part.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    if (filled > 0) yield part.subarray(0, filled);
    if (filled < partSize) return;
  }
}

/**
 * Uploads a local file: hashed in a first read, then sent in one PUT or as a
 * multipart upload read from the file itself, so no spool copy is made.
 * `request.body` is ignored.
 */
export async function uploadFile(
  client: S3Client,
  request: UploadRequest,
  file: Deno.FsFile,
): Promise<PutResult> {
  const hasher = new ContentHasher();
  for await (const part of fileParts(file, request.partSize)) hasher.update(part);
  const sha256 = hasher.digest();
  if (hasher.size <= request.partSize) {
    const bytes = new Uint8Array(hasher.size);
    let filled = 0;
    for await (const part of fileParts(file, request.partSize)) {
      bytes.set(part, filled);
      filled += part.byteLength;
    }
    if (filled !== hasher.size) throw new Error(`the file changed while it was uploaded`);
    return await putSingle(client, request, bytes, sha256);
  }
  return await putMultipart(client, request, {
    size: hasher.size,
    sha256,
    parts: () => fileParts(file, request.partSize),
  });
}

function spoolError(error: unknown, where: string, input: string) {
  const reason = toError(error).message;
  return storeError(
    "io_failed",
    `Cannot write '${input}': a stream longer than one part is hashed into a spool file in ` +
      `${where} before its multipart upload, and that failed (${reason}). Free space there ` +
      `or point the store's spool folder (TMPDIR) at a folder with room for the object.`,
    input,
    error,
  );
}

/** `CopySource` header value: bucket and URL-encoded key. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replaceAll("%2F", "/")}`;
}

/** S3 etags arrive wrapped in double quotes; callers get them bare. */
export function stripQuotes(etag: string | undefined): string {
  return (etag ?? "").replaceAll('"', "");
}
