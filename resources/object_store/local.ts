/**
 * `LocalObjectStore`: the embedded default of the object store, one folder per
 * bucket under a root folder (`data_lake/` by default).
 *
 * Layout, for bucket `b` and key `x/y.json`:
 *
 *     <root>/b/x/y.json          the bytes
 *     <root>/.meta/b/x/y.json    sidecar JSON: sha256, etag, content type, user metadata
 *
 * The sidecar tree mirrors the data tree exactly (no suffix), so two keys can
 * never fight over a sidecar path, and it sits under `.meta`, which no bucket
 * can be named (bucket names start with a letter or digit), so listings never
 * show it. Writes go to a temporary file in the target folder that is renamed
 * into place, so a reader sees the old object or the new one, never a part.
 * A writer killed mid-write (`kill -9`) leaves its temporary files; each
 * process records those it makes in a journal under `<root>/.locks/writers/`
 * that it holds locked, and the next process to write to the lake removes
 * those of dead writers, in whatever folder (`_local_journal.ts`). The
 * temporary file's name also says which process on which host writes it, so
 * `removeEmptyFolders` removes those of dead writers in the folders it walks
 * (`_local_temp.ts`), journal or not.
 *
 * Folders are not objects (S3 has none): the store makes the folders a key
 * needs and does not remove one when deleting or moving the last key under
 * it, because an uploader (this store in another process, or any tool
 * writing into the landing folder) may have just made it or be writing into
 * it; removing it would race that uploader (#15 item 11). Only a caller that
 * knows a prefix is finished removes its emptied folders, with
 * `removeEmptyFolders` (the spatial archive, for a batch's landing folder
 * once every file of the batch and its manifest are archived; never
 * `manifests/`). An empty folder is invisible to `list`, `head` and `get`,
 * and a later object of the same name replaces it (only an empty one).
 * `removeEmptyFolders` waits for writers that are between a folder's mkdir
 * and their first file in it, in any process, through a lock file
 * (`<root>/.locks/folders`, `flock`); if anything else removes a folder in
 * that window, the store makes it again and retries.
 *
 * Limitations of a file system compared to S3: a key cannot be both an object
 * and a folder holding objects (`a` and `a/b`), which fails with
 * `object_store.key_conflict`; each `/`-separated name is limited to 255
 * bytes by the file system.
 *
 * @module
 */

import { crashPoint } from "../../core/crash_point.ts";
import { dirname, join, resolve } from "node:path";
import {
  assertLocations,
  DerivedOperations,
  hashFile,
  putArguments,
  sameLocation,
  validateFolderPrefix,
  writeHashed,
} from "./_base.ts";
import { assertBody, ContentHasher, discardBody, etagFromSha256, hashedChunks } from "./_body.ts";
import { bucketNotAFolder, bucketNotFound, location, notFound, storeError } from "./_errors.ts";
import {
  FolderLock,
  inFolder,
  KeyedLock,
  readSidecar,
  removeEmptyTree,
  removeIfPresent,
  renameOver,
  type Sidecar,
  walkKeys,
  writeAll,
  writeSidecarTemp,
} from "./_local_fs.ts";
import { fileStream, mapLimited, toStoreError } from "./_local_io.ts";
import { journalOf, type TempJournal } from "./_local_journal.ts";
import { validateBucket, validateKey, validatePrefix } from "./_keys.ts";
import { canonicalMetadata, DEFAULT_CONTENT_TYPE } from "./_metadata.ts";
import { buildKeyPage } from "./_paging.ts";
import { assertRange, resolveRange } from "./_range.ts";
import type {
  GetFileResult,
  GetOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectHead,
  ObjectLocation,
  ObjectStore,
  ObjectSummary,
  PutOptions,
  PutResult,
} from "./types.ts";

/** Options of {@linkcode LocalObjectStore}. */
export interface LocalObjectStoreOptions {
  /**
   * Folder holding one folder per bucket; relative paths resolve against the
   * current directory.
   *
   * @default {"data_lake"}
   */
  root?: string;
  /**
   * Flush each object's bytes to disk before it becomes visible, so a power
   * cut cannot leave an empty file at the key. Turn off only for scratch data.
   *
   * @default {true}
   */
  durable?: boolean;
}

/** An object written to its temporary file, its sidecar's temporary file still to write. */
interface Written {
  temp: string;
  sidecarTemp: string;
  sidecar: Sidecar;
}

/** Folder of the sidecar tree under the root; a name no bucket can have. */
const META_DIR = ".meta";

/** Folder of the store's lock files under the root; no bucket can be named so either. */
const LOCKS_DIR = ".locks";

/**
 * Object store in local folders, with sidecar metadata.
 *
 * @example
 * ```ts
 * import { LocalObjectStore } from "./local.ts";
 * await using store = new LocalObjectStore({ root: await Deno.makeTempDir() });
 * await store.ensureBucket("data-lake");
 * await store.put("data-lake", "raw/a.txt", new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode(await store.getBytes("data-lake", "raw/a.txt")));
 * ```
 */
export class LocalObjectStore extends DerivedOperations implements ObjectStore {
  /** Always `"local"`. */
  readonly backend = "local" as const;
  /** Absolute path of the root folder. */
  readonly root: string;
  #durable: boolean;
  #lock = new KeyedLock();
  #folders: FolderLock;
  #journal: TempJournal;
  #realBucketDirs = new Map<string, string>();

  /** Opens (lazily) a store rooted at `options.root`. */
  constructor(options: LocalObjectStoreOptions = {}) {
    super();
    this.root = resolve(options.root ?? "data_lake");
    this.#durable = options.durable ?? true;
    this.#folders = new FolderLock(join(this.root, LOCKS_DIR, "folders"));
    this.#journal = journalOf(this.root);
  }

  /** Creates the bucket folder if it does not exist. */
  async ensureBucket(bucket: string): Promise<void> {
    validateBucket(bucket);
    const dir = join(this.root, bucket);
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (error) {
      const info = await Deno.stat(dir).catch(() => undefined);
      if (info && !info.isDirectory) throw bucketNotAFolder(bucket, dir, error);
      throw toStoreError(error, bucket, dir);
    }
  }

  /** Streams the body into a temporary file, then renames it over the key. */
  async put(
    bucket: string,
    key: string,
    body: ObjectBody,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const { metadata, contentType } = putArguments(bucket, key, options);
    assertBody(body, location(bucket, key));
    await this.#requireBucket(bucket, "write", key);
    const written = await this.#writeTemp(bucket, key, body, { contentType, metadata });
    await this.#commit(bucket, key, written);
    const { sidecar } = written;
    return { etag: sidecar.etag, size: sidecar.size, sha256: sidecar.sha256 };
  }

  /**
   * Gives the object's file a second name at `path` (a hard link: nothing is
   * copied; a later version of the object replaces its file by rename, so
   * `path` keeps these bytes), then hashes it. Copies instead when a link
   * cannot be made (another file system) or another process replaced the
   * object in between.
   */
  override async getFile(bucket: string, key: string, path: string): Promise<GetFileResult> {
    validateBucket(bucket);
    validateKey(bucket, key);
    await removeIfPresent(path);
    const { file, head, linked } = await this.#lock.run([location(bucket, key)], async () => {
      const opened = await this.#open(bucket, key);
      const linked = await Deno.link(this.#dataPath(bucket, key), path).then(
        () => true,
        () => false,
      );
      return { ...opened, linked };
    });
    try {
      if (linked && (await Deno.stat(path)).ino === (await file.stat()).ino) {
        file.close();
        return { ...await hashFile(path), etag: head.etag };
      }
      if (linked) await removeIfPresent(path);
    } catch (error) {
      file.close();
      throw toStoreError(error, location(bucket, key), path);
    }
    return { ...await writeHashed(fileStream(file, head.size), path), etag: head.etag };
  }

  /**
   * Links the file in as the object's new version (no copy) and hashes it;
   * streams a copy instead when the file is on another file system.
   */
  override async putFile(
    bucket: string,
    key: string,
    path: string,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const { metadata, contentType } = putArguments(bucket, key, options);
    await this.#requireBucket(bucket, "write", key);
    const dir = dirname(this.#dataPath(bucket, key));
    // A symbolic link would be linked as a link (that may lead out of the bucket): copy its target.
    if (!(await Deno.lstat(path)).isFile) return await super.putFile(bucket, key, path, options);
    let temps: string[] | undefined;
    try {
      temps = await this.#journal.begin([dir, dirname(this.#metaPath(bucket, key))]);
      const [temp] = temps as [string];
      await this.#inFolder(dir, () => Deno.link(path, temp), bucket, path);
    } catch {
      if (temps) await this.#discardTemps(temps);
      return await super.putFile(bucket, key, path, options);
    }
    const [temp, sidecarTemp] = temps as [string, string];
    let sidecar: Sidecar;
    try {
      using file = await Deno.open(temp);
      if (this.#durable) await file.syncData();
      const { ino } = await file.stat();
      const { size, sha256 } = await hashFile(temp);
      sidecar = {
        ino,
        size,
        etag: etagFromSha256(sha256),
        sha256,
        contentType,
        metadata,
      };
    } catch (error) {
      await this.#discardTemps(temps);
      throw toStoreError(error, location(bucket, key), dir);
    }
    await this.#commit(bucket, key, { temp, sidecarTemp, sidecar });
    return { etag: sidecar.etag, size: sidecar.size, sha256: sidecar.sha256 };
  }

  /** Opens the object; the stream reads the version that existed when `get` was called. */
  async get(bucket: string, key: string, options: GetOptions = {}): Promise<GetResult> {
    validateBucket(bucket);
    validateKey(bucket, key);
    assertRange(options.range);
    const path = this.#dataPath(bucket, key);
    const { file, head } = await this.#lock.run(
      [location(bucket, key)],
      () => this.#open(bucket, key),
    );
    try {
      if (options.range === undefined) return { ...head, body: fileStream(file, head.size) };
      const range = resolveRange(bucket, key, options.range, head.size);
      await file.seek(range.start, Deno.SeekMode.Start);
      return { ...head, body: fileStream(file, range.end - range.start + 1), range };
    } catch (error) {
      file.close();
      throw toStoreError(error, location(bucket, key), path);
    }
  }

  /** Describes the object from its file and sidecar. */
  async head(bucket: string, key: string): Promise<ObjectHead | undefined> {
    validateBucket(bucket);
    validateKey(bucket, key);
    return await this.#lock.run([location(bucket, key)], () => this.#headUnlocked(bucket, key));
  }

  /** Lists one page, walking folders in S3 key order. */
  async list(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    validateBucket(bucket);
    validatePrefix(bucket, options.prefix ?? "");
    await this.#requireBucket(bucket, "list");
    const bucketDir = join(this.root, bucket);
    const page = await buildKeyPage(bucket, (p, c) => walkKeys(bucketDir, p, c), options);
    const summaries = await mapLimited(page.keys, 32, (key) => this.#summary(bucket, key));
    const result: ListPage = {
      objects: summaries.filter((s): s is ObjectSummary => s !== undefined),
      prefixes: page.prefixes,
    };
    if (page.nextContinuationToken !== undefined) {
      result.nextContinuationToken = page.nextContinuationToken;
    }
    return result;
  }

  /** Copies bytes (re-hashed on the way) and metadata into a new object. */
  async copy(from: ObjectLocation, to: ObjectLocation): Promise<void> {
    assertLocations(from, to);
    await this.#requireBucket(to.bucket, "copy to", to.key);
    const source = await this.#lock.run(
      [location(from.bucket, from.key)],
      () => this.#open(from.bucket, from.key),
    );
    if (sameLocation(from, to)) return source.file.close();
    const body = fileStream(source.file, source.head.size);
    const contentType = source.head.contentType ?? DEFAULT_CONTENT_TYPE;
    const written = await this.#writeTemp(to.bucket, to.key, body, {
      contentType,
      metadata: source.head.metadata,
    });
    await this.#commit(to.bucket, to.key, written);
  }

  /** Renames the file and its sidecar; no copy of the bytes. */
  async move(from: ObjectLocation, to: ObjectLocation): Promise<void> {
    assertLocations(from, to);
    await this.#requireBucket(to.bucket, "move to", to.key);
    const ids = [location(from.bucket, from.key), location(to.bucket, to.key)];
    await this.#lock.run(ids, async () => {
      const info = await this.#statObject(from.bucket, from.key);
      if (info === undefined) throw await this.#missing(from.bucket, from.key);
      if (sameLocation(from, to)) return;
      await this.#moveUnlocked(from, to, info);
    });
  }

  /** Removes the file and its sidecar; folders stay (see the module doc). */
  async delete(bucket: string, key: string): Promise<void> {
    validateBucket(bucket);
    validateKey(bucket, key);
    await this.#lock.run([location(bucket, key)], async () => {
      const info = await this.#statObject(bucket, key);
      if (info === undefined) return;
      await this.#removeObject(bucket, key);
    });
  }

  /**
   * Removes the folders under `prefix` that hold nothing (their sidecar
   * folders too), deepest first, with a plain `rmdir`: a folder that holds
   * anything (an object, or a live writer's temporary file) is left, so a
   * writer that has begun writing keeps its folder. Temporary files of
   * writers that are certainly gone (killed mid-write, on this host) are
   * removed first, so they do not keep a folder forever. Between a writer's mkdir and its
   * first file the folder is empty; this store's writes then make it again
   * (`inFolder`). Symbolic links are not followed.
   */
  override async removeEmptyFolders(bucket: string, prefix: string): Promise<void> {
    validateBucket(bucket);
    validateFolderPrefix(bucket, prefix);
    await this.#requireBucket(bucket, "remove folders of");
    const folder = prefix.slice(0, -1);
    for (const dir of [this.#dataPath(bucket, folder), this.#metaPath(bucket, folder)]) {
      try {
        // A symbolic link (here or above) could lead out of the store: left alone.
        const info = await infoIfPresent(() => Deno.lstat(dir));
        if (!info?.isDirectory) continue;
        if (dir === this.#dataPath(bucket, folder)) await this.#assertInside(bucket, dir);
        await this.#folders.run("exclusive", () => removeEmptyTree(dir));
      } catch (error) {
        throw toStoreError(error, location(bucket, prefix), dir);
      }
    }
  }

  /** Nothing to release: files are opened and closed per call. */
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }

  async #moveUnlocked(from: ObjectLocation, to: ObjectLocation, info: Deno.FileInfo) {
    const sidecar = await this.#matchingSidecar(from.bucket, from.key, info);
    const target = this.#dataPath(to.bucket, to.key);
    let temps: string[] | undefined;
    try {
      if (sidecar) {
        temps = await this.#journal.begin([dirname(this.#metaPath(to.bucket, to.key))]);
        const [sidecarTemp] = temps as [string];
        await this.#folders.run("shared", () => writeSidecarTemp(sidecarTemp, sidecar));
      }
      const source = this.#dataPath(from.bucket, from.key);
      await this.#inFolder(dirname(target), () => renameOver(source, target), to.bucket, source);
      crashPoint("lake.move.renamed", `${to.bucket}/${to.key}`); // the data moved, its metadata and source not yet
      await this.#placeSidecar(to.bucket, to.key, temps?.[0]);
      if (temps) this.#journal.end(temps);
      await this.#removeObject(from.bucket, from.key);
    } catch (error) {
      if (temps) await this.#discardTemps(temps);
      throw toStoreError(error, location(to.bucket, to.key), target);
    }
  }

  async #writeTemp(
    bucket: string,
    key: string,
    body: ObjectBody,
    described: Pick<Sidecar, "contentType" | "metadata">,
  ): Promise<Written> {
    const dir = dirname(this.#dataPath(bucket, key));
    let temps: string[] | undefined;
    try {
      temps = await this.#journal.begin([dir, dirname(this.#metaPath(bucket, key))]);
      const [path, sidecarTemp] = temps as [string, string];
      // The temp file is made right after the mkdir, before the containment check,
      // so the folder is empty (removable by someone else) for as short as can be.
      using file = await this.#folders.run("shared", () =>
        inFolder(dir, async () => {
          const opened = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
          try {
            await this.#assertInside(bucket, dir);
          } catch (error) {
            opened.close();
            throw error;
          }
          return opened;
        }));
      const hasher = new ContentHasher();
      for await (const chunk of hashedChunks(body, hasher)) await writeAll(file, chunk);
      if (this.#durable) await file.syncData();
      const { ino } = await file.stat();
      const sha256 = hasher.digest();
      return {
        temp: path,
        sidecarTemp,
        sidecar: { ino, size: hasher.size, etag: etagFromSha256(sha256), sha256, ...described },
      };
    } catch (error) {
      await discardBody(body);
      if (temps !== undefined) await this.#discardTemps(temps);
      throw toStoreError(error, location(bucket, key), dir);
    }
  }

  /** Removes the temporary files of a failed write, and ends their journal line. */
  async #discardTemps(temps: string[]): Promise<void> {
    try {
      for (const temp of temps) await removeIfPresent(temp);
    } catch {
      // Left where it is: the failure that brought us here is the one to report.
    }
    this.#journal.end(temps);
  }

  // The sidecar is written first (to a temporary name), then both renames
  // happen under the key's lock, so readers in this process see matching pairs.
  async #commit(bucket: string, key: string, written: Written): Promise<void> {
    const { temp, sidecarTemp, sidecar } = written;
    const path = this.#dataPath(bucket, key);
    try {
      await this.#folders.run("shared", () => writeSidecarTemp(sidecarTemp, sidecar));
      await this.#lock.run([location(bucket, key)], async () => {
        await renameOver(temp, path);
        crashPoint("lake.put.renamed", `${bucket}/${key}`); // the data in place, its metadata not yet
        await this.#placeSidecar(bucket, key, sidecarTemp);
      });
    } catch (error) {
      await this.#discardTemps([temp, sidecarTemp]);
      throw toStoreError(error, location(bucket, key), path);
    }
    this.#journal.end([temp, sidecarTemp]);
  }

  // Renames the sidecar into place, clearing a stale sidecar folder left by a crash.
  async #placeSidecar(bucket: string, key: string, sidecarTemp: string | undefined) {
    const metaPath = this.#metaPath(bucket, key);
    if (sidecarTemp === undefined) return await removeIfPresent(metaPath);
    try {
      await Deno.rename(sidecarTemp, metaPath);
    } catch (error) {
      if (
        !(error instanceof Deno.errors.IsADirectory || error instanceof Deno.errors.AlreadyExists)
      ) {
        throw error;
      }
      await Deno.remove(metaPath, { recursive: true });
      await Deno.rename(sidecarTemp, metaPath);
    }
  }

  async #open(bucket: string, key: string): Promise<{ file: Deno.FsFile; head: ObjectHead }> {
    const path = this.#dataPath(bucket, key);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (isMissing(error)) throw await this.#missing(bucket, key);
      throw toStoreError(error, location(bucket, key), path);
    }
    try {
      const info = await file.stat();
      if (!info.isFile) throw notFound(bucket, key);
      await this.#assertInside(bucket, path);
      return { file, head: await this.#headFor(bucket, key, info) };
    } catch (error) {
      file.close();
      throw toStoreError(error, location(bucket, key), path);
    }
  }

  async #headUnlocked(bucket: string, key: string): Promise<ObjectHead | undefined> {
    const info = await this.#statObject(bucket, key);
    return info === undefined ? undefined : await this.#headFor(bucket, key, info);
  }

  async #headFor(bucket: string, key: string, info: Deno.FileInfo): Promise<ObjectHead> {
    const lastModified = info.mtime ?? new Date(0);
    const sidecar = await this.#matchingSidecar(bucket, key, info);
    if (sidecar === undefined) {
      // Dropped in by hand or by another process mid-write: describe the file alone.
      const etag = `${info.size.toString(16)}-${lastModified.getTime().toString(16)}`;
      return { size: info.size, etag, lastModified, metadata: {} };
    }
    const { etag, sha256, contentType, metadata } = sidecar;
    // Sidecars written before names were canonical may hold `-`: read them with `_`.
    const names = canonicalMetadata(metadata);
    return { size: info.size, etag, sha256, lastModified, contentType, metadata: names };
  }

  async #matchingSidecar(bucket: string, key: string, info: Deno.FileInfo) {
    const sidecar = await readSidecar(this.#metaPath(bucket, key));
    if (sidecar === undefined || sidecar.size !== info.size) return undefined;
    return sidecar.ino === info.ino ? sidecar : undefined;
  }

  async #summary(bucket: string, key: string): Promise<ObjectSummary | undefined> {
    const info = await this.#statObject(bucket, key);
    if (info === undefined) return undefined; // Deleted since the walk.
    const { size, etag, lastModified } = await this.#headFor(bucket, key, info);
    return { key, size, etag, lastModified };
  }

  // Also refuses paths that leave the bucket, so move and delete cannot reach outside it.
  async #statObject(bucket: string, key: string): Promise<Deno.FileInfo | undefined> {
    const path = this.#dataPath(bucket, key);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw toStoreError(error, location(bucket, key), path);
    }
    if (!info.isFile) return undefined;
    try {
      await this.#assertInside(bucket, path);
    } catch (error) {
      // Moved or deleted by another process between the stat and the check:
      // gone, like a file the stat had not found.
      if (isMissing(error)) return undefined;
      throw error;
    }
    return info;
  }

  async #removeObject(bucket: string, key: string): Promise<void> {
    const path = this.#dataPath(bucket, key);
    const metaPath = this.#metaPath(bucket, key);
    await removeIfPresent(path);
    await removeIfPresent(metaPath);
  }

  async #missing(bucket: string, key: string) {
    const dir = join(this.root, bucket);
    const bucketInfo = await infoIfPresent(() => Deno.stat(dir)).catch((error) => {
      throw toStoreError(error, bucket, dir);
    });
    return bucketInfo?.isDirectory ? notFound(bucket, key) : bucketNotFound(bucket, "read", key);
  }

  async #requireBucket(bucket: string, action: string, key?: string): Promise<void> {
    const dir = join(this.root, bucket);
    const info = await infoIfPresent(() => Deno.stat(dir)).catch((error) => {
      throw toStoreError(error, bucket, dir);
    });
    if (info && !info.isDirectory) throw bucketNotAFolder(bucket, dir);
    if (!info) throw bucketNotFound(bucket, action, key);
  }

  // Makes `dir` inside the bucket and puts the first file in it (`use`), under
  // the shared folder lock so this store's removeEmptyFolders cannot strike between.
  #inFolder<T>(dir: string, use: () => Promise<T>, bucket: string, source: string): Promise<T> {
    return this.#folders.run(
      "shared",
      () => inFolder(dir, use, (d) => this.#mkdirInside(bucket, d), source),
    );
  }

  async #mkdirInside(bucket: string, dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    await this.#assertInside(bucket, dir);
  }

  // Keys cannot contain `..`, but a symlink placed inside a bucket folder could
  // still lead out of it: resolve the real path and refuse anything outside.
  async #assertInside(bucket: string, path: string): Promise<void> {
    const bucketDir = await this.#realBucketDir(bucket);
    const real = await Deno.realPath(path);
    if (real === bucketDir || real.startsWith(`${bucketDir}/`)) return;
    throw storeError(
      "invalid_key",
      `Refusing '${location(bucket, relative(bucketDir, real))}': its path resolves outside the ` +
        `bucket folder through a symbolic link. Remove the link from '${join(this.root, bucket)}'.`,
      location(bucket),
    );
  }

  async #realBucketDir(bucket: string): Promise<string> {
    const known = this.#realBucketDirs.get(bucket);
    if (known !== undefined) return known;
    const real = await Deno.realPath(join(this.root, bucket));
    this.#realBucketDirs.set(bucket, real);
    return real;
  }

  #dataPath(bucket: string, key: string): string {
    return join(this.root, bucket, key);
  }

  #metaPath(bucket: string, key: string): string {
    return join(this.root, META_DIR, bucket, key);
  }
}

/**
 * The file's information, or `undefined` when nothing is there. Any other
 * failure (a loop of links, a refused permission) is thrown: read as "not
 * there", a bucket that could not be looked at was reported as one that does
 * not exist, which sensors take for an empty landing zone.
 */
async function infoIfPresent(
  stat: () => Promise<Deno.FileInfo>,
): Promise<Deno.FileInfo | undefined> {
  try {
    return await stat();
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

function relative(base: string, path: string): string {
  return path.startsWith(`${base}/`) ? path.slice(base.length + 1) : path;
}
