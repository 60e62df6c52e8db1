/**
 * The parse cache in `target/partial_parse.json` (dbt's partial parsing, in
 * spirit): compiled Jinja and parsed YAML values keyed by a digest of each
 * file's path and text, and what the static parser read from a model (its
 * refs, sources and `config()`) keyed by a digest of the text and of the
 * macros and vars it was read against, so an unchanged project loads without
 * running the Jinja compiler, the YAML parser or the static parser.
 * Only entries used by the last load are kept.
 *
 * @module
 */

import { toError } from "../../core/errors.ts";
import { writeJsonAtomic } from "./_files.ts";
import { DbtError, DbtErrorCode } from "./errors.ts";

/** Identifies the format of cached entries; a change invalidates the whole cache. */
export const CACHE_ENGINE =
  "nunjucks@3.2.4+jinja-compat+do+frames;js-yaml@5.5.0+merge+pyyaml-1.1;static-parse;py-compat-9;v5";

/** The file name under the target path. */
export const CACHE_FILE = "partial_parse.json";

/** A YAML file as cached: its plain value (lines are worked out again when asked for). */
export type CachedYaml = unknown;

/** Entries read at the start of a load and the ones it used. */
export class ParseCache {
  readonly #templates = new Map<string, string>();
  readonly #yaml = new Map<string, CachedYaml>();
  readonly #usedTemplates = new Map<string, string>();
  readonly #usedYaml = new Map<string, CachedYaml>();
  readonly #static = new Map<string, unknown>();
  readonly #usedStatic = new Map<string, unknown>();
  #misses = 0;
  #persistent = false;

  /** An empty cache (nothing is read or written unless {@linkcode read} and {@linkcode write} are called). */
  static empty(): ParseCache {
    return new ParseCache();
  }

  /**
   * Whether this cache came from {@linkcode read} (a load that will write it):
   * an {@linkcode empty} one is never written, so callers skip computing its
   * keys (a sha256 per file and per model).
   */
  get persistent(): boolean {
    return this.#persistent;
  }

  /** Whether the cache file held parsed YAML (a load then has little YAML left to parse). */
  get hasYaml(): boolean {
    return this.#yaml.size > 0;
  }

  /** Reads the cache file; a missing, foreign or corrupt one gives an empty cache. */
  static async read(path: string): Promise<ParseCache> {
    const cache = new ParseCache();
    cache.#persistent = true;
    let raw: unknown;
    try {
      raw = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return cache;
      // A folder or an unreadable file in its place: the load would end writing it anyway.
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `cannot read the parse cache (${toError(error).message}); remove it ` +
          "(`deno task dbt clean` removes the target folder): it is made again by the next load",
        { file: path },
        error,
      );
    }
    // Valid JSON of another shape (`null`, a list): a cache from nothing this runner wrote.
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return cache;
    const file = raw as {
      engine?: unknown;
      templates?: unknown;
      yaml?: unknown;
      static?: unknown;
    };
    if (file.engine !== CACHE_ENGINE) return cache;
    if (typeof file.templates === "object" && file.templates !== null) {
      for (const [key, code] of Object.entries(file.templates)) {
        if (typeof code === "string") cache.#templates.set(key, code);
      }
    }
    if (typeof file.yaml === "object" && file.yaml !== null) {
      for (const [key, entry] of Object.entries(file.yaml)) {
        cache.#yaml.set(key, entry);
      }
    }
    if (typeof file.static === "object" && file.static !== null) {
      for (const [key, entry] of Object.entries(file.static)) cache.#static.set(key, entry);
    }
    return cache;
  }

  /**
   * What the static parser read from a template (`null`: it gave up), parsing
   * (and counting a miss) when not cached. The caller validates the shape of
   * a cached entry and parses again when it is not one it wrote.
   */
  staticParse<T>(key: string, parse: () => T | null, valid: (entry: unknown) => boolean): T | null {
    let entry = this.#static.get(key);
    if (!this.#static.has(key) || !valid(entry)) {
      entry = parse();
      this.#misses++;
    }
    this.#usedStatic.set(key, entry);
    return entry as T | null;
  }

  /** Compiled code of a template, compiling (and counting a miss) when not cached. */
  template(key: string, compile: () => string): string {
    let code = this.#templates.get(key);
    if (code === undefined) {
      code = compile();
      this.#misses++;
    }
    this.#usedTemplates.set(key, code);
    return code;
  }

  /** A parsed YAML file, parsing (and counting a miss) when not cached. */
  yaml(key: string, parse: () => CachedYaml): CachedYaml {
    let entry = this.#yaml.get(key);
    if (entry === undefined && !this.#yaml.has(key)) {
      entry = parse();
      this.#misses++;
    }
    this.#usedYaml.set(key, entry);
    return entry;
  }

  /** Marks a YAML entry this load used without asking the cache for it. */
  keep(key: string, entry: CachedYaml): void {
    if (!this.#yaml.has(key)) this.#misses++;
    this.#usedYaml.set(key, entry);
  }

  /**
   * Writes the entries this load used, when anything was not cached or an
   * entry went unused (a deleted file's: the file keeps only what the last
   * load needed).
   */
  async write(dir: string): Promise<void> {
    const dropped = this.#usedTemplates.size < this.#templates.size ||
      this.#usedYaml.size < this.#yaml.size || this.#usedStatic.size < this.#static.size;
    if (this.#misses === 0 && !dropped) return;
    // On one line: only this runner reads it, and a 10k-model project's cache is 3.2 MB instead
    // of 8 MB indented (stringified in 10-30 ms instead of 20-40 ms, parsed again on the next load).
    await writeJsonAtomic(dir, CACHE_FILE, {
      engine: CACHE_ENGINE,
      templates: Object.fromEntries(this.#usedTemplates),
      yaml: Object.fromEntries(this.#usedYaml),
      static: Object.fromEntries(this.#usedStatic),
    }, 0);
  }
}
