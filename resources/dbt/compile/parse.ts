/**
 * The parse pass: each model and snapshot is rendered once with `execute`
 * false to learn what it refs, which sources it reads and its `config()`;
 * seeds become nodes from their files. Nothing is compiled for real here.
 *
 * @module
 */

import { digest, type ProjectSource } from "../_files.ts";
import type { ParseCache } from "../_cache.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type { CompiledTemplate, JinjaEnv, RenderScope } from "../jinja/env.ts";
import type { BuildKind } from "../nodes.ts";
import { Relation } from "../relation.ts";
import type { PackageFiles, PackageSources, SeedFile } from "../project/read.ts";
import { preprocess } from "../jinja/extensions.ts";
import { type StaticParse, staticParse, type StaticParseContext } from "./static_parse.ts";

/** A node after the parse pass. */
export interface ParsedNode {
  /** model, seed or snapshot. */
  readonly kind: BuildKind;
  /** Node name. */
  readonly name: string;
  /** Package defining it. */
  readonly packageName: string;
  /** File relative to the root project. */
  readonly file: string;
  /** File relative to its resource path. */
  readonly path: string;
  /** Its SQL as written (the block body for a snapshot), "" for a seed. */
  readonly text: string;
  /** The whole file, for the checksum. */
  readonly fileText: string;
  /** Compiled template, or null (seeds); compiled on first use when the static parser read the file. */
  readonly template: CompiledTemplate | null;
  /** Whether refs, sources and config came from the static parser (no render at parse time). */
  readonly static: boolean;
  /** Names it refs. */
  readonly refs: string[];
  /** Source ids it reads. */
  readonly sources: string[];
  /** `config()` calls of the file. */
  readonly inline: Record<string, unknown>;
  /** Seed file, for seeds. */
  readonly seed?: SeedFile | undefined;
}

/** What the parse pass needs from the loader. */
export interface ParseContext {
  /** The environment with every macro loaded. */
  readonly jinja: JinjaEnv;
  /** A render scope for a node of `packageName` (parse flavour). */
  readonly scope: (packageName: string, name: string) => RenderScope;
  /** Resolves `source(a, b)` to its unique id, or raises. */
  readonly sourceId: (sourceName: string, table: string) => string;
  /** Relation of a declared source, for parse renders. */
  readonly sourceRelation: (id: string) => Relation | undefined;
  /** What the static parser needs; absent: every node is rendered at parse time. */
  readonly staticContext?: StaticParseContext | undefined;
  /** Whether a source is declared (the static parser leaves unknown ones to the render's error). */
  readonly hasSource?: (sourceName: string, table: string) => boolean;
  /** The parse cache: static parses are kept there for the next process. */
  readonly cache?: ParseCache | undefined;
}

const SNAPSHOT_BLOCK =
  /\{%-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}([\s\S]*?)\{%-?\s*endsnapshot\s*-?%\}/g;

/** Parses the models of one package. */
export function parseModels(files: PackageFiles, ctx: ParseContext): ParsedNode[] {
  return files.models.map((source) => parseModel(source, files.name, ctx));
}

/** Parses one model file of package `packageName` (a partial re-parse of an edited file). */
export function parseModel(
  source: ProjectSource,
  packageName: string,
  ctx: ParseContext,
): ParsedNode {
  const text = source.path.endsWith(".py") ? pythonModelTemplate(source) : source.text;
  return parseSql("model", stem(source.path), source, text, packageName, ctx);
}

/**
 * A Python model (`models/x.py`, `def model(dbt, session)`) as this runner takes it: it runs
 * SQL only, so the model is a node of the graph with the refs, sources and materialization its
 * `dbt.ref` / `dbt.source` / `dbt.config` calls name (listed, selectable, its children
 * downstream of it), whose build fails naming the file, as dbt-postgres fails it ("only
 * supports languages ['sql']"). Before, `.py` files were not read at all: a build was green
 * without the model, and a ref to it failed as if it did not exist. `dbt.config(enabled=False)`
 * disables it as dbt does.
 */
export function pythonModelTemplate(source: ProjectSource): string {
  const code = source.text;
  const refs = [...code.matchAll(/dbt\.ref\(\s*(['"])([^'"\n]+)\1(?:\s*,\s*(['"])([^'"\n]+)\3)?/g)]
    .map((m) => m[4] === undefined ? `ref('${m[2]}')` : `ref('${m[2]}', '${m[4]}')`);
  const sources = [...code.matchAll(/dbt\.source\(\s*(['"])([^'"\n]+)\1\s*,\s*(['"])([^'"\n]+)\3/g)]
    .map((m) => `source('${m[2]}', '${m[4]}')`);
  const config = /dbt\.config\(([^)]*)\)/.exec(code)?.[1] ?? "";
  const materialized = /materialized\s*=\s*(['"])(\w+)\1/.exec(config)?.[2] ?? "table";
  const enabled = /enabled\s*=\s*False\b/.test(config) ? ", enabled=false" : "";
  const why = `${source.file} is a Python model: this runner runs SQL models only, as ` +
    `dbt-postgres does; rewrite it in SQL, or disable it (dbt.config(enabled=False)) or ` +
    `leave it out (--exclude ${stem(source.path)})`;
  // The error first: it is reported on the file's line 1.
  return [
    `{% if execute %}{{ exceptions.raise_compiler_error(${JSON.stringify(why)}) }}{% endif %}` +
    `{{ config(materialized='${materialized}'${enabled}) }}`,
    ...[...refs, ...sources].map((call) => `-- depends_on: {{ ${call} }}`),
  ].join("\n");
}

/** Parses the snapshots of one package (`{% snapshot name %}` blocks). */
export function parseSnapshots(files: PackageFiles, ctx: ParseContext): ParsedNode[] {
  const out: ParsedNode[] = [];
  for (const source of files.snapshots) {
    let found = false;
    for (const match of source.text.matchAll(SNAPSHOT_BLOCK)) {
      found = true;
      const name = match[1] as string;
      // Keep line numbers: pad the body with the lines before it.
      const before = source.text.slice(0, (match.index ?? 0) + match[0].indexOf(match[2] ?? ""));
      const body = "\n".repeat(before.split("\n").length - 1) + (match[2] ?? "");
      out.push(parseSql("snapshot", name, source, body, files.name, ctx));
    }
    if (!found && source.text.trim().length > 0) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        "a file in the snapshot paths has no {% snapshot name %} ... {% endsnapshot %} block",
        { file: source.file, line: 1 },
      );
    }
  }
  return out;
}

/** Seeds of one package: one node per CSV file. */
export function parseSeeds(files: PackageFiles): ParsedNode[] {
  return files.seeds.map((seed) => ({
    kind: "seed" as const,
    name: stem(seed.path),
    packageName: files.name,
    file: seed.file,
    path: seed.path,
    text: "",
    fileText: seed.checksum,
    template: null,
    static: true,
    refs: [],
    sources: [],
    inline: {},
    seed,
  }));
}

/** A YAML snapshot (dbt 1.9+): `relation:` plus config, no SQL file. */
export function yamlSnapshot(
  name: string,
  relation: string,
  file: string,
  packageName: string,
  ctx: ParseContext,
): ParsedNode {
  const text = `select * from {{ ${relation} }}`;
  return parseSql("snapshot", name, { file, path: file, text }, text, packageName, ctx);
}

function parseSql(
  kind: BuildKind,
  name: string,
  source: ProjectSource,
  text: string,
  packageName: string,
  ctx: ParseContext,
): ParsedNode {
  const found = ctx.staticContext ? memoStaticParse(text, ctx.staticContext, ctx.cache) : undefined;
  if (found && found.sources.every(([s, t]) => ctx.hasSource?.(s, t) ?? false)) {
    let template: CompiledTemplate | undefined;
    return {
      kind,
      name,
      packageName,
      file: source.file,
      path: source.path,
      text,
      fileText: source.text,
      get template() {
        template ??= ctx.jinja.compile(text, source.file);
        return template;
      },
      static: true,
      refs: found.refs.map((ref) => ctx.jinja.resolveRef(ref)),
      sources: found.sources.map(([s, t]) => ctx.sourceId(s, t)),
      inline: found.config,
    };
  }
  return renderParse(kind, name, source, text, packageName, ctx);
}

/**
 * Static parses of the models of `packages`, done ahead of {@linkcode parseModels} (which then
 * finds them memoised): a load runs this while the parse worker reads the property YAML,
 * which the parse itself needs. In the order the load parses (so the parse cache keeps its
 * entries' order), and so only up to the first package with snapshots (parsed between two
 * packages' models) or the first Python model (not parsed from its own text).
 */
export function staticParseAhead(
  packages: readonly PackageSources[],
  ctx: StaticParseContext,
  cache: ParseCache | undefined,
): void {
  for (const pkg of packages) {
    for (const source of pkg.models) {
      if (source.path.endsWith(".py")) return;
      memoStaticParse(source.text, ctx, cache);
    }
    if (pkg.snapshots.length > 0) return;
  }
}

/** Static parses of this process by text, under one context key (a reload reuses them). */
const STATIC = new Map<string, { key: string; found: StaticParse | undefined }>();
const STATIC_MAX = 50_000;

function memoStaticParse(
  text: string,
  ctx: StaticParseContext,
  cache: ParseCache | undefined,
): StaticParse | undefined {
  const memoed = (): StaticParse | null => {
    const memo = STATIC.get(text);
    if (memo && ctx.key !== undefined && memo.key === ctx.key) return memo.found ?? null;
    let usedEnv = false;
    const found = staticParse(preprocess(text), {
      ...ctx,
      hasEnv: (name) => {
        usedEnv = true; // the environment may change between loads: not kept
        return ctx.hasEnv(name);
      },
    });
    if (ctx.key !== undefined && !usedEnv) {
      STATIC.set(text, { key: ctx.key, found });
      if (STATIC.size > STATIC_MAX) STATIC.delete(STATIC.keys().next().value as string);
    }
    return found ?? null;
  };
  if (ctx.key === undefined || !cache?.persistent || /env_var/.test(text)) {
    return memoed() ?? undefined;
  }
  // Kept for the next process, keyed by text and context (macros, vars): a file read against
  // other macros or vars is parsed again.
  return cache.staticParse(cacheKey(text, ctx.key), memoed, isStaticParse) ?? undefined;
}

/**
 * Parse-cache keys of texts under the last context: a load asks for each model's twice
 * (ahead of the parse, {@linkcode staticParseAhead}, then in it), and a sha256 of 10k texts
 * costs tens of milliseconds.
 */
let cacheKeys: { context: string; keys: Map<string, string> } | undefined;

function cacheKey(text: string, contextKey: string): string {
  const context = contextDigest(contextKey);
  if (cacheKeys?.context !== context) cacheKeys = { context, keys: new Map() };
  let key = cacheKeys.keys.get(text);
  if (key === undefined) {
    key = digest(`${context}\0${text}`);
    cacheKeys.keys.set(text, key);
    if (cacheKeys.keys.size > STATIC_MAX) {
      cacheKeys.keys.delete(cacheKeys.keys.keys().next().value as string);
    }
  }
  return key;
}

let lastContext: { key: string; digest: string } | undefined;

/** Digest of a static-parse context key (long: every macro name and the vars), once per load. */
function contextDigest(key: string): string {
  if (lastContext?.key !== key) lastContext = { key, digest: digest(key) };
  return lastContext.digest;
}

/** Whether a cached entry has the shape of a {@linkcode StaticParse} (or is `null`: gave up). */
function isStaticParse(entry: unknown): boolean {
  if (entry === null) return true;
  if (typeof entry !== "object") return false;
  const { refs, sources, config } = entry as Record<string, unknown>;
  return Array.isArray(refs) && refs.every((r) => typeof r === "string") &&
    Array.isArray(sources) &&
    sources.every((p) =>
      Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === "string")
    ) &&
    typeof config === "object" && config !== null && !Array.isArray(config);
}

/** The parse render: `execute` false, recording refs, sources and config() calls. */
function renderParse(
  kind: BuildKind,
  name: string,
  source: ProjectSource,
  text: string,
  packageName: string,
  ctx: ParseContext,
): ParsedNode {
  const template = ctx.jinja.compile(text, source.file);
  const refs: string[] = [];
  const sources: string[] = [];
  const inline: Record<string, unknown> = {};
  const placeholder = new Relation("", "__parse__", "__parse__");
  ctx.jinja.render(template, {
    ...ctx.scope(packageName, name),
    ref: (model) => {
      if (!refs.includes(model)) refs.push(model);
      return placeholder;
    },
    source: (s, t) => {
      const id = ctx.sourceId(s, t);
      if (!sources.includes(id)) sources.push(id);
      return ctx.sourceRelation(id) ?? placeholder;
    },
    config: (values) => Object.assign(inline, values),
    configGet: (key) => inline[key],
    self: placeholder,
    execute: false,
  });
  return {
    kind,
    name,
    packageName,
    file: source.file,
    path: source.path,
    text,
    fileText: source.text,
    template,
    static: false,
    refs,
    sources,
    inline,
  };
}

/** A file name without folders and extension. */
export function stem(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.slice(0, base.lastIndexOf("."));
}

/** The folders of a path relative to its resource path. */
export function folders(path: string): string[] {
  return path.split("/").slice(0, -1);
}

/** sha256 of a node's file text (models, snapshots) or bytes (seeds). */
export function checksumOf(node: ParsedNode): string {
  return node.kind === "seed" ? node.fileText : digest(node.fileText);
}
