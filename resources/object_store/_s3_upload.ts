// Atomic uploads to S3. A body that fits in one part goes up in a single PUT;
// a longer stream goes up as a multipart upload, which S3 shows at the key only
// once completed, and which is aborted if anything fails so no parts linger.
//
// The SHA-256 is known only after the last byte, but a multipart upload fixes
// its metadata when it starts; so once completed, the object is copied onto
// itself with the hash added (guarded by its etag, so a concurrent writer's
// object is never stamped with our hash). Until that copy lands, about one
// round trip, `head` shows the complete object without its `sha256`.

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { ContentHasher, fixedParts, hashedChunks } from "./_body.ts";
import { SHA256_KEY } from "./_metadata.ts";
import type { ObjectBody, PutResult } from "./types.ts";

/** Largest object S3 copies in one CopyObject call (5 GiB). */
export const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** What to upload, already validated. */
export interface UploadRequest {
  bucket: string;
  key: string;
  body: ObjectBody;
  contentType: string;
  metadata: Record<string, string>;
  partSize: number;
}

/** Uploads a body in one PUT or as a multipart upload, hashing it on the way. */
export async function uploadObject(client: S3Client, request: UploadRequest): Promise<PutResult> {
  const hasher = new ContentHasher();
  const parts = fixedParts(hashedChunks(request.body, hasher), request.partSize);
  try {
    const first = await parts.next();
    const second = await parts.next();
    const head = first.done ? new Uint8Array(0) : first.value;
    if (second.done) return await putSingle(client, request, head, hasher);
    return await putMultipart(client, request, [head, second.value], parts, hasher);
  } finally {
    await parts.return(undefined); // Cancels the caller's stream if we stopped early.
  }
}

async function putSingle(
  client: S3Client,
  request: UploadRequest,
  bytes: Uint8Array,
  hasher: ContentHasher,
): Promise<PutResult> {
  const sha256 = hasher.digest();
  const output = await client.send(
    new PutObjectCommand({
      Bucket: request.bucket,
      Key: request.key,
      Body: bytes,
      ContentLength: bytes.byteLength,
      ContentType: request.contentType,
      Metadata: { ...request.metadata, [SHA256_KEY]: sha256 },
    }),
  );
  return { etag: stripQuotes(output.ETag), size: bytes.byteLength, sha256 };
}

async function putMultipart(
  client: S3Client,
  request: UploadRequest,
  firstParts: Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
  hasher: ContentHasher,
): Promise<PutResult> {
  const { Bucket, Key } = { Bucket: request.bucket, Key: request.key };
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key,
      ContentType: request.contentType,
      Metadata: request.metadata,
    }),
  );
  const UploadId = created.UploadId;
  let completedEtag: string;
  try {
    const uploaded = await uploadParts(client, { Bucket, Key, UploadId }, firstParts, rest);
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: uploaded },
      }),
    );
    completedEtag = stripQuotes(completed.ETag);
  } catch (error) {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
    throw error;
  }
  const sha256 = hasher.digest();
  const etag = await stampSha256(client, request, completedEtag, hasher.size, sha256);
  return { etag, size: hasher.size, sha256 };
}

interface UploadTarget {
  Bucket: string;
  Key: string;
  UploadId: string | undefined;
}

async function uploadParts(
  client: S3Client,
  target: UploadTarget,
  firstParts: Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
): Promise<{ ETag: string | undefined; PartNumber: number }[]> {
  const uploaded: { ETag: string | undefined; PartNumber: number }[] = [];
  const send = async (Body: Uint8Array) => {
    const PartNumber = uploaded.length + 1;
    const output = await client.send(
      new UploadPartCommand({ ...target, PartNumber, Body, ContentLength: Body.byteLength }),
    );
    uploaded.push({ ETag: output.ETag, PartNumber });
  };
  for (const part of firstParts) await send(part);
  for (let next = await rest.next(); !next.done; next = await rest.next()) {
    // The final part may be empty when the stream length is a multiple of the part size.
    if (next.value.byteLength > 0) await send(next.value);
  }
  return uploaded;
}

async function stampSha256(
  client: S3Client,
  request: UploadRequest,
  etag: string,
  size: number,
  sha256: string,
): Promise<string> {
  if (size > MAX_COPY_BYTES) return etag; // Needs UploadPartCopy; documented limitation.
  try {
    const output = await client.send(
      new CopyObjectCommand({
        Bucket: request.bucket,
        Key: request.key,
        CopySource: copySource(request.bucket, request.key),
        CopySourceIfMatch: `"${etag}"`,
        MetadataDirective: "REPLACE",
        ContentType: request.contentType,
        Metadata: { ...request.metadata, [SHA256_KEY]: sha256 },
      }),
    );
    return stripQuotes(output.CopyObjectResult?.ETag) || etag;
  } catch (error) {
    // A later put replaced our object: last writer wins, ours did complete.
    if ((error as { name?: string })?.name === "PreconditionFailed") return etag;
    throw error;
  }
}

/** `CopySource` header value: bucket and URL-encoded key. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replaceAll("%2F", "/")}`;
}

/** S3 etags arrive wrapped in double quotes; callers get them bare. */
export function stripQuotes(etag: string | undefined): string {
  return (etag ?? "").replaceAll('"', "");
}
