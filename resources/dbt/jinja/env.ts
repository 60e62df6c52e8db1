/**
 * Jinja for dbt, on nunjucks (a well-kept Jinja implementation for
 * JavaScript): the dbt context (`ref`, `source`, `config`, `var`, `env_var`,
 * `this`, `target`, `is_incremental`, `adapter.dispatch`, `run_query`,
 * `statement`/`load_result`, `return`, `{% do %}`, `exceptions`, `modules`...)
 * and the macros of the project, its packages and the global project.
 *
 * Rendering is synchronous, so the globals read the scope of the template
 * being rendered from one mutable slot. `run_query` needs the warehouse,
 * which is asynchronous: a render that asks for a query it has no answer for
 * stops, {@linkcode JinjaEnv.renderAsync} runs the query, and renders again
 * with the answers so far (each query runs once; a render is a pure function
 * of its answers).
 *
 * Macros are looked up like dbt does: unqualified names in the root project,
 * then the package being rendered, then the global project (`dbt`);
 * `package.macro` names one package's macro; `adapter.dispatch(name,
 * namespace)` tries `<prefix>__name` for each prefix of the adapter
 * (`postgres`, then `default`) in each package of the search order.
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { DBT_VERSION } from "../project/project_keys.ts";
import { pyJsonParse } from "./py_number.ts";
import { Relation } from "../relation.ts";
import { apiColumn, type JinjaColumn } from "./columns.ts";
import { adapterWarehouseMethods } from "./adapter_methods.ts";
import type { QueryResult } from "../query.ts";
import { ParseCache } from "../_cache.ts";
import { digest } from "../_files.ts";
import { addDbtFilters, installJinjaCompat, RETURN_OUTSIDE_MACRO, ReturnSignal } from "./compat.ts";
import { agateTable, dbtModules, pyDatetime } from "./context.ts";
import { printTableLines } from "./print_table.ts";
import { type Clock, systemClock } from "../../../core/clock.ts";
import { DoExtension, LoopControlExtension, macroBlocks, preprocess } from "./extensions.ts";
import { addJinjaBuiltins, pyJsonDumps } from "./builtins.ts";
import { asSet, asTuple, isPlainDict, pyRepr, pyStr } from "./py_repr.ts";
import { dictKeys } from "./py_dict.ts";
import { addPythonFilters, installPythonSemantics, PYTHON_GLOBALS } from "./python.ts";
import { installUndefined, strictUndefined, undefinedErrorIn } from "./undefined.ts";
import { toError } from "../../../core/errors.ts";
import { registerSecret } from "../../../core/secrets.ts";
import { positionsOf, sharedCode, SKELETON_FILE, splitTemplate } from "./skeleton.ts";
import type { SharedCode } from "./skeleton.ts";
import { precompiledTemplate } from "./precompiled.ts";

/** `nunjucks.compiler.compile`, which @types/nunjucks leaves out. */
function compileToCode(source: string, file: string): string {
  const compiler = (nunjucks as unknown as {
    compiler: {
      compile(
        src: string,
        asyncFilters: string[],
        extensions: unknown[],
        name: string,
        opts: Record<string, unknown>,
      ): string;
    };
  }).compiler;
  const code = compiler.compile(source, [], [new DoExtension(), new LoopControlExtension()], file, {
    throwOnUndefined: false,
  });
  // A macro left by an exception (return(), a raised error) must give its caller its frame back.
  // Macros named `_x` are a package's private helpers in dbt, yet called as `pkg._x()`
  // (dbt_utils._is_relation): nunjucks does not export them, so they are exported here.
  return code
    .replace(
      /context\.setVariable\("(_\w*)", (macro_t_\d+)\);/g,
      'context.addExport("$1");\ncontext.setVariable("$1", $2);',
    )
    .replaceAll("var callerFrame = frame;\n", "var callerFrame = frame;\ntry {\n")
    .replace(
      /frame = (?:callerFrame|frame\.pop\(\));\nreturn new runtime\.SafeString\((t_\d+)\);\n\}\);/g,
      "return new runtime.SafeString($1);\n} finally { frame = callerFrame; }\n});",
    );
}

/**
 * The text nunjucks compiles for a template's source: Jinja2 reads CR LF and lone CR as LF,
 * and (keep_trailing_newline=False, as dbt leaves it) drops one newline ending the template, so
 * a model's compiled SQL ends where its last line does; then dbt's Jinja syntax nunjucks lacks
 * is rewritten (jinja/extensions.ts).
 */
function templateText(source: string): string {
  // Jinja2 reads every CR LF and lone CR as its newline_sequence, LF (a file saved on Windows
  // compiles to dbt's SQL).
  const lf = source.includes("\r") ? source.replace(/\r\n?/g, "\n") : source;
  return preprocess(lf.endsWith("\n") ? lf.slice(0, -1) : lf);
}

/**
 * The code {@linkcode JinjaEnv.compile} builds a template from when it shares no skeleton:
 * what tools/gen_global_compiled.ts writes for the global project (jinja/precompiled.ts).
 */
export function templateCode(source: string, file: string): string {
  return compileToCode(templateText(source), file);
}

/**
 * Template functions built in this process, by digest of file and text. Building one
 * (`new Function`) costs about 0.1 ms, the largest part of a reload; templates hold no
 * state of their own (the environment and context are passed in at each render).
 */
const LOADED = new Map<string, Record<string, unknown>>();
const LOADED_MAX = 50_000;

/** Shared code of the skeletons compiled in this process (null: not shareable). */
const SHARED = new Map<string, SharedCode | null>();

/** What one render can call; the compiler gives a new scope per template. */
export interface RenderScope {
  /** `ref('model')` or `ref('package', 'model')`. */
  ref(name: string, packageName?: string): Relation;
  /** `source('source', 'table')`. */
  source(sourceName: string, tableName: string): Relation;
  /** `config(materialized='table', ...)`, keyword arguments as an object. */
  config(values: Readonly<Record<string, unknown>>): void;
  /** `config.get('key', default)`: the node's resolved config so far. */
  configGet?(key: string): unknown;
  /** `var('name', default)`; `hasDefault` tells `var('x', none)` from `var('x')`. */
  var(name: string, fallback: unknown, hasDefault: boolean): unknown;
  /** `env_var('NAME', default)`. */
  envVar(name: string, fallback: string | undefined): string;
  /** `is_incremental()`. */
  isIncremental(): boolean;
  /** `this`, the relation being built. */
  readonly self: Relation | undefined;
  /** `target` (name, schema, type, database, threads...). */
  readonly target: Readonly<Record<string, unknown>>;
  /** `execute`: false while parsing, true when compiling for a run. */
  readonly execute?: boolean;
  /** The package whose node is rendered (macro lookup). */
  readonly packageName?: string;
  /** `model`: the node being rendered, as a dict. */
  readonly model?: Readonly<Record<string, unknown>>;
  /** `graph`: nodes and sources, as dicts. */
  readonly graph?: Readonly<Record<string, unknown>>;
  /** `invocation_id`. */
  readonly invocationId?: string;
  /** Answers to the queries of this render so far, in order; absent means "cannot query". */
  readonly answers?: QueryResult[];
  /** Messages of `log(..., info=True)` and `print()`. */
  readonly onLog?: (message: string) => void;
  /** `results` of an on-run-end hook: the invocation's results, as dbt's Result objects. */
  readonly results?: readonly unknown[];
  /** `node` of a query comment: the node a statement runs for (null: none). */
  readonly node?: Readonly<Record<string, unknown>> | null;
  /** A unit test's `overrides: macros:`: the value a macro returns instead of running. */
  readonly macroOverrides?: Readonly<Record<string, unknown>>;
  /** What a custom materialization reads: `sql`/`compiled_code`, `pre_hooks`, `post_hooks`. */
  readonly materialization?: MaterializationContext;
}

/** The context dbt gives a materialization macro besides the node's. */
export interface MaterializationContext {
  /** The node's compiled SQL (`sql`, `compiled_code`). */
  readonly sql: string;
  /** Its pre-hooks, rendered (`pre_hooks`: dicts with `sql` and `transaction`). */
  readonly preHooks: readonly string[];
  /** Its post-hooks, rendered. */
  readonly postHooks: readonly string[];
}

/** An error a global raises; turned into a {@linkcode DbtError} with the line by `render`. */
class ScopeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** A render needs the answer to `sql` before it can go on. */
class NeedQuery extends Error {
  constructor(readonly sql: string) {
    super("a query is needed");
  }
}

/**
 * Raises an error from inside a render (for the compiler's `ref`/`source`
 * checks): `render` rethrows it as a {@linkcode DbtError} naming file and line.
 */
export function raiseInRender(code: string, message: string): never {
  throw new ScopeError(code, message);
}

type Kwargs = Record<string, unknown> & { __keywords?: boolean };

/** A `ref`/`source` argument as a name: a non-empty string (or number), else undefined. */
function nameArgument(arg: unknown): string | undefined {
  if (typeof arg === "number") return String(arg);
  return typeof arg === "string" && arg.trim() !== "" ? arg : undefined;
}

/** The (database, schema) pairs of the relations an on-run-end's `results` built, or undefined. */
function builtSchemas(results: readonly unknown[] | undefined): [string, string][] | undefined {
  if (results === undefined) return undefined;
  const seen = new Map<string, [string, string]>();
  for (const result of results) {
    const r = result as { status?: unknown; node?: Record<string, unknown> };
    const kind = r.node?.resource_type;
    if (kind !== "model" && kind !== "seed" && kind !== "snapshot") continue;
    if (r.status === "error" || r.status === "fail" || r.status === "skipped") continue;
    const [database, schema] = [r.node?.database, r.node?.schema];
    if (typeof schema !== "string") continue;
    const pair = asTuple([String(database ?? ""), schema]) as [string, string];
    seen.set(JSON.stringify(pair), pair);
  }
  return [...seen.values()];
}

/** What a scope's var() gives for a name it does not know (a default no caller passes). */
const VAR_NOT_SET = Symbol("var not set");

/** Splits nunjucks call arguments into positional ones and keyword arguments. */
export function splitKwargs(args: unknown[]): { positional: unknown[]; kwargs: Kwargs } {
  const last = args[args.length - 1];
  if (typeof last === "object" && last !== null && (last as Kwargs).__keywords === true) {
    const { __keywords: _, ...kwargs } = last as Kwargs;
    return { positional: args.slice(0, -1), kwargs };
  }
  return { positional: args, kwargs: {} };
}

/** Keeps a macro's or model's line from nunjucks' message (runtime lines are 0-based). */
function lineFrom(message: string, zeroBased: boolean): number | undefined {
  const match = /\[Line (\d+)/.exec(message);
  // nunjucks leaves the line out when it is 0, i.e. the first line at run time.
  if (!match) return zeroBased && message.startsWith("(") ? 1 : undefined;
  const n = Number(match[1]);
  return zeroBased ? n + 1 : n;
}

function firstMessageLine(message: string): string {
  const lines = message.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const body = lines.find((l) => !l.startsWith("(")) ?? lines[0] ?? message;
  return body.replace(/^(Template render error|Error): /, "");
}

const BLOCK_TAGS = new Set([
  "if",
  "for",
  "macro",
  "call",
  "filter",
  "test",
  "materialization",
  "docs",
  "snapshot",
  "raw",
]);

/**
 * For a template that ends inside a block or a comment (nunjucks says "end
 * of file" without a line), the line where the unclosed one opens, as dbt
 * says "searched from line N".
 */
function unclosedLine(text: string, message: string): number | undefined {
  if (!/end of (file|comment)/i.test(message)) return undefined;
  const lineAt = (offset: number) => text.slice(0, offset).split("\n").length;
  const comment = text.lastIndexOf("{#");
  if (comment >= 0 && text.indexOf("#}", comment) < 0) return lineAt(comment);
  const open: number[] = [];
  for (const tag of text.matchAll(/\{%-?\s*(\w+)([^%]*)%\}/g)) {
    const name = tag[1] ?? "";
    if (name.startsWith("end")) open.pop();
    else if (BLOCK_TAGS.has(name) || (name === "set" && !(tag[2] ?? "").includes("="))) {
      open.push(tag.index);
    }
  }
  const last = open.at(-1);
  return last === undefined ? undefined : lineAt(last);
}

/** A compiled template and the file it came from. */
export interface CompiledTemplate {
  /** Project-relative file. */
  readonly file: string;
  /** The nunjucks template. */
  readonly template: nunjucks.Template;
}

type MacroFn = (...args: unknown[]) => unknown;

interface LoadedMacro {
  readonly fn: MacroFn;
  readonly file: string;
  readonly packageName: string;
  /** Its block as written (dbt's `macro_sql`). */
  readonly sql: string;
}

/** The global project's package name. */
export const GLOBAL_PACKAGE = "dbt";

/** Options of {@linkcode JinjaEnv}. */
export interface JinjaEnvOptions {
  /** Keeps compiled templates between loads. */
  readonly cache?: ParseCache;
  /** The root project's name (searched first). */
  readonly rootPackage?: string;
  /**
   * Prefixes `adapter.dispatch` tries, in order.
   * @default {["postgres", "default"]}
   */
  readonly dispatchPrefixes?: readonly string[];
  /** `dispatch:` of dbt_project.yml: search order per macro namespace. */
  readonly dispatch?: Readonly<Record<string, readonly string[]>>;
  /** Quotes an identifier the way the adapter does. */
  readonly quote?: (name: string) => string;
  /**
   * Where `modules.datetime` and `run_started_at` read the time (tests pass a fake clock).
   * @default {systemClock}
   */
  readonly clock?: Pick<Clock, "now">;
  /** `flags` of the invocation (`FULL_REFRESH`, `WHICH`...); dbt's defaults otherwise. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** `invocation_args_dict` (the command's arguments); `{}` when not given. */
  readonly invocationArgs?: Readonly<Record<string, unknown>>;
  /** `dbt_metadata_envs`: the `DBT_ENV_CUSTOM_ENV_*` variables, prefix stripped; `{}` when not given. */
  readonly metadataEnv?: Readonly<Record<string, string>>;
  /**
   * Where `log(..., info=True)`, `print()` and `exceptions.warn()` go when the
   * render's scope names no `onLog` (dbt prints them; dropping them would hide
   * what a project's macros say).
   */
  readonly onLog?: (message: string) => void;
}

/**
 * The Jinja environment of one project: macros of the project, its packages
 * and the global project, and the dbt context functions as globals.
 */
export class JinjaEnv {
  readonly #env: nunjucks.Environment;
  #scope: RenderScope | undefined;
  #thrown: unknown;
  #queryIndex = 0;
  readonly #results = new Map<string, unknown>();
  readonly #macros = new Map<string, Map<string, LoadedMacro>>(); // package -> name -> macro
  /** {@linkcode macros}, made again after a macro is loaded. */
  #macroList: readonly (readonly [string, string])[] | undefined;
  readonly #namespaces = new Map<string, Record<string, MacroFn>>();
  readonly #packageStack: string[] = [];
  readonly #cache: ParseCache;
  readonly #root: string;
  readonly #onLog: ((message: string) => void) | undefined;
  readonly #prefixes: readonly string[];
  readonly #dispatch: Readonly<Record<string, readonly string[]>>;
  #resolveRef: (name: string, version: unknown) => string = (name) => name;

  /** nunjucks' globals table, which @types/nunjucks leaves out. */
  get #globals(): Record<string, unknown> {
    return (this.#env as unknown as { globals: Record<string, unknown> }).globals;
  }

  /** Creates an environment with the dbt context functions. */
  constructor(options: JinjaEnvOptions = {}) {
    this.#cache = options.cache ?? ParseCache.empty();
    this.#root = options.rootPackage ?? "";
    this.#onLog = options.onLog;
    this.#prefixes = options.dispatchPrefixes ?? ["postgres", "default"];
    this.#dispatch = options.dispatch ?? {};
    const quote = options.quote ?? ((name: string) => `"${name.replaceAll('"', '""')}"`);
    installJinjaCompat();
    installPythonSemantics();
    installUndefined();
    this.#env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: false });
    this.#env.addExtension("do", new DoExtension());
    this.#env.addExtension("loopcontrols", new LoopControlExtension());
    addDbtFilters(this.#env);
    addPythonFilters(this.#env);
    addJinjaBuiltins(this.#env);
    for (const [name, fn] of Object.entries(PYTHON_GLOBALS)) this.#env.addGlobal(name, fn);
    const scope = (): RenderScope => {
      if (!this.#scope) throw new ScopeError(DbtErrorCode.renderFailed, "no render in progress");
      return this.#scope;
    };
    const guard = <A extends unknown[], T>(fn: (...args: A) => T) => (...args: A): T => {
      try {
        return fn(...args);
      } catch (error) {
        if (!(error instanceof ReturnSignal)) this.#thrown = error;
        throw error;
      }
    };
    const g = (name: string, fn: (...args: unknown[]) => unknown) =>
      this.#env.addGlobal(name, guard(fn));
    const builtinRef = guard((...args: unknown[]) => {
      const { positional, kwargs } = splitKwargs(args);
      const names = positional.slice(0, 2).map((arg) => nameArgument(arg));
      if (names.length === 0 || names.includes(undefined)) {
        throw new ScopeError(
          DbtErrorCode.renderFailed,
          `ref() needs the name of a model, seed or snapshot as a string: ref('name') or ` +
            `ref('package', 'name')`,
        );
      }
      const [first, second] = names as string[];
      // `v=` / `version=` of a versioned model (compile/versions.ts) picks the node.
      let model: string;
      try {
        model = this.#resolveRef(second ?? first as string, kwargs.v ?? kwargs.version);
      } catch (error) {
        if (error instanceof RangeError) {
          throw new ScopeError(DbtErrorCode.unknownRef, error.message);
        }
        throw error;
      }
      return second === undefined ? scope().ref(model) : scope().ref(model, first);
    });
    const builtinSource = guard((a: unknown, b: unknown) => {
      const [sourceName, table] = [nameArgument(a), nameArgument(b)];
      if (sourceName === undefined || table === undefined) {
        throw new ScopeError(
          DbtErrorCode.renderFailed,
          "source() needs the source and the table as strings: source('source_name', 'table_name')",
        );
      }
      return scope().source(sourceName, table);
    });
    // A root project's own `ref` / `source` macro replaces the built-in one everywhere (dbt's
    // documented override, e.g. `builtins.ref(...).include(database=false)`); `builtins` keeps
    // the originals.
    const overridable = (name: "ref" | "source", builtin: (...args: unknown[]) => unknown) =>
    (
      ...args: unknown[]
    ) => {
      const own = this.#macros.get(this.#root)?.get(name);
      return own ? own.fn(...args) : builtin(...args);
    };
    this.#env.addGlobal("ref", overridable("ref", builtinRef));
    this.#env.addGlobal("source", overridable("source", builtinSource));
    const config = guard((...args: unknown[]) => {
      const { positional, kwargs } = splitKwargs(args);
      const first = positional[0];
      scope().config(
        typeof first === "object" && first !== null ? first as Record<string, unknown> : kwargs,
      );
      return "";
    });
    Object.assign(config, {
      get: guard((key: unknown, fallback?: unknown) => {
        const value = scope().configGet?.(String(key));
        return value === undefined ? (fallback ?? null) : value;
      }),
      require: guard((key: unknown) => {
        const value = scope().configGet?.(String(key));
        if (value === undefined || value === null) {
          throw new ScopeError(
            DbtErrorCode.renderFailed,
            `config '${String(key)}' is required but not set`,
          );
        }
        return value;
      }),
      // `config.set('sql_header', ...)` (dbt's set_sql_header macro): the same as config().
      set: guard((key: unknown, value: unknown) => {
        scope().config({ [String(key)]: value });
        return "";
      }),
      persist_relation_docs: () => false,
      persist_column_docs: () => false,
    });
    this.#env.addGlobal("config", config);
    this.#env.addGlobal("builtins", { ref: builtinRef, source: builtinSource, config });
    // dbt's `var(var_name, default=...)` and `env_var(var, default=None)` take keywords too
    // (dbt_project_evaluator calls `var("x", default="y")`).
    // A var's text is a template rendered where var() is called, as dbt-core's
    // Var.get_rendered_var (dbt_project_evaluator's `insert_batch_size: "{{ 500 if
    // target.type in [...] else 10000 }}"`); a default is given as it is.
    g("var", (...args) => {
      const { positional, kwargs } = splitKwargs(args);
      const name = String(positional[0] ?? kwargs.var_name);
      const hasDefault = positional.length > 1 || Object.hasOwn(kwargs, "default");
      const fallback = positional.length > 1 ? positional[1] : kwargs.default;
      const value = scope().var(name, VAR_NOT_SET, true);
      if (value === VAR_NOT_SET) return scope().var(name, fallback, hasDefault);
      return typeof value === "string" && /\{[{%#]/.test(value)
        ? this.compile(value, `var('${name}')`).template.render({})
        : value;
    });
    g("env_var", (...args) => {
      const { positional, kwargs } = splitKwargs(args);
      const fallback = positional.length > 1 ? positional[1] : kwargs.default;
      return scope().envVar(
        String(positional[0] ?? kwargs.var),
        fallback === undefined || fallback === null ? undefined : String(fallback),
      );
    });
    g("is_incremental", () => scope().isIncremental());
    // dbt's log() and print() write Python's str() of what they are given (`[1, 'a', None]`,
    // `{'a': True}`), not JavaScript's text of it (`1,a,`, `[object Object]`).
    const say = (message: unknown, info: boolean) => {
      if (info) (this.#scope?.onLog ?? this.#onLog)?.(pyStr(message));
      return "";
    };
    g("log", (...args) => {
      const { positional, kwargs } = splitKwargs(args);
      return say(positional[0], positional[1] === true || kwargs.info === true);
    });
    g("print", (message) => say(message, true));
    this.#env.addGlobal("return", (value: unknown) => {
      throw new ReturnSignal(value);
    });
    this.#env.addGlobal("exceptions", {
      raise_compiler_error: guard((message: unknown) => {
        throw new ScopeError(DbtErrorCode.renderFailed, String(message));
      }),
      raise_not_implemented: guard((message: unknown) => {
        throw new ScopeError(DbtErrorCode.renderFailed, `not implemented: ${String(message)}`);
      }),
      warn: (message: unknown) => say(`warning: ${String(message)}`, true),
    });
    const clock = options.clock ?? systemClock;
    this.#env.addGlobal("modules", dbtModules(clock));
    // dbt takes it as `datetime.now(tz=pytz.utc)`: aware, printed with `+00:00`.
    this.#env.addGlobal("run_started_at", pyDatetime(new Date(clock.now()), true));
    this.#env.addGlobal("local_md5", (text: unknown) => digest(String(text), "md5"));
    // dbt's tojson(value, default=None, sort_keys=False) is Python's json.dumps.
    this.#env.addGlobal("tojson", (...args: unknown[]) => {
      const { positional, kwargs } = splitKwargs(args);
      return pyJsonDumps(positional[0], (kwargs.sort_keys ?? positional[2]) === true);
    });
    this.#env.addGlobal("fromjson", (text: unknown) => pyJsonParse(String(text)));
    this.#env.addGlobal("zip", (...lists: unknown[][]) => {
      const length = Math.min(...lists.map((l) => l.length));
      return Array.from({ length }, (_, i) => asTuple(lists.map((l) => l[i])));
    });
    // dbt's set(value, default=None): Python's set(), or the default when the value is not
    // iterable. The set is an array that prints as Python prints a set (`{1, 2}`, `set()`).
    this.#env.addGlobal("set", (...args: unknown[]) => {
      const { positional, kwargs } = splitKwargs(args);
      const items = Object.hasOwn(kwargs, "value")
        ? kwargs.value
        : positional.length > 0
        ? positional[0]
        : [];
      const fallback = kwargs.default ?? positional[1] ?? null;
      return isIterable(items) ? asSet([...new Set(iterate(items))]) : fallback;
    });
    // dbt's set_strict / zip_strict: set() and zip() that fail on what is not iterable
    // (their lenient twins return the default instead).
    this.#env.addGlobal("set_strict", (items: unknown) => {
      if (!isIterable(items)) {
        throw new ScopeError(
          DbtErrorCode.renderFailed,
          `set_strict(): ${pyRepr(items)} is not iterable`,
        );
      }
      return asSet([...new Set(iterate(items))]);
    });
    this.#env.addGlobal("zip_strict", (...lists: unknown[]) => {
      const bad = lists.find((list) => !isIterable(list));
      if (bad !== undefined || lists.some((list) => list === undefined)) {
        throw new ScopeError(
          DbtErrorCode.renderFailed,
          `zip_strict(): ${pyRepr(bad)} is not iterable`,
        );
      }
      const items = lists.map(iterate);
      const length = Math.min(...items.map((l) => l.length));
      return Array.from({ length }, (_, i) => asTuple(items.map((l) => l[i])));
    });
    // try_or_compiler_error(message, func, *args, **kwargs): func's result, or a compilation
    // error with the message when it raises.
    this.#env.addGlobal(
      "try_or_compiler_error",
      (message: unknown, fn: unknown, ...args: unknown[]) => {
        if (typeof fn !== "function") {
          throw new ScopeError(DbtErrorCode.renderFailed, String(message));
        }
        try {
          return fn(...args);
        } catch (error) {
          if (error instanceof ReturnSignal) throw error;
          throw new ScopeError(DbtErrorCode.renderFailed, String(message));
        }
      },
    );
    this.#env.addGlobal("diff_of_two_dicts", diffOfTwoDicts);
    // dbt's invocation_args_dict and dbt_metadata_envs: brooklyn-data/dbt_artifacts uploads
    // both into its invocations table (they were undefined: `tojson` wrote null).
    this.#env.addGlobal("invocation_args_dict", structuredClone(options.invocationArgs ?? {}));
    this.#env.addGlobal("dbt_metadata_envs", { ...options.metadataEnv });
    this.#env.addGlobal("flags", {
      FULL_REFRESH: false,
      WHICH: "run",
      STORE_FAILURES: false,
      ...options.flags,
    });
    // Context values that read the current scope, so macros see them too.
    const current = () => this.#scope;
    // `this`: the relation being built, with its methods (`this.render()`, `this.incorporate()`).
    const relationProxy = () =>
      new Proxy({}, {
        get: (_, key) => {
          const self = current()?.self;
          if (key === "toString") return () => self?.toString() ?? "";
          if (self === undefined) return undefined;
          const value: unknown = Reflect.get(self, key, self);
          return typeof value === "function" ? value.bind(self) : value;
        },
      });
    this.#env.addGlobal("this", relationProxy());
    this.#env.addGlobal(
      "target",
      new Proxy({}, {
        get: (_, key) => typeof key === "string" ? current()?.target[key] : undefined,
      }),
    );
    this.#env.addGlobal(
      "model",
      new Proxy({}, {
        get: (_, key) => typeof key === "string" ? current()?.model?.[key] : undefined,
      }),
    );
    this.#env.addGlobal(
      "graph",
      new Proxy({}, {
        get: (_, key) => typeof key === "string" ? current()?.graph?.[key] ?? {} : undefined,
      }),
    );
    // `execute` and `invocation_id` are plain names in Jinja: globals looked up per render.
    Object.defineProperty(this.#globals, "execute", {
      get: () => current()?.execute ?? false,
      enumerable: true,
    });
    Object.defineProperty(this.#globals, "results", {
      get: () => current()?.results ?? [],
      enumerable: true,
    });
    // on-run-end's `schemas` and `database_schemas`: where the nodes that built (models, seeds,
    // snapshots not failed or skipped) are, as dbt's RunTask gives them (`grant usage on schema`
    // loops); undefined elsewhere, as in dbt.
    Object.defineProperty(this.#globals, "database_schemas", {
      get: () => builtSchemas(current()?.results),
      enumerable: true,
    });
    Object.defineProperty(this.#globals, "schemas", {
      get: () => {
        const pairs = builtSchemas(current()?.results);
        return pairs && [...new Set(pairs.map(([, schema]) => schema))];
      },
      enumerable: true,
    });
    // A materialization's own context: its node's SQL and hooks (undefined elsewhere, as in dbt).
    const hookDicts = (hooks: readonly string[] | undefined) =>
      hooks?.map((sql, index) => ({ sql, transaction: true, index }));
    for (
      const [name, read] of [
        ["sql", (m: MaterializationContext) => m.sql],
        ["compiled_code", (m: MaterializationContext) => m.sql],
        ["pre_hooks", (m: MaterializationContext) => hookDicts(m.preHooks)],
        ["post_hooks", (m: MaterializationContext) => hookDicts(m.postHooks)],
      ] as const
    ) {
      Object.defineProperty(this.#globals, name, {
        get: () => {
          const m = current()?.materialization;
          return m === undefined ? undefined : read(m);
        },
        enumerable: true,
      });
    }
    Object.defineProperty(this.#globals, "node", {
      get: () => current()?.node,
      enumerable: true,
    });
    this.#env.addGlobal("dbt_version", DBT_VERSION);
    // dbt's `project_name`: the root project's name (`selectattr('package_name', 'equalto',
    // project_name)` keeps the project's own nodes).
    this.#env.addGlobal("project_name", this.#root);
    Object.defineProperty(this.#globals, "invocation_id", {
      get: () => current()?.invocationId ?? "",
      enumerable: true,
    });
    // run_query / statement / load_result: answers come from the replay slot.
    const runQuery = (sql: string): unknown => {
      const s = scope();
      if (!s.execute || s.answers === undefined) return null;
      const index = this.#queryIndex++;
      const answer = s.answers[index];
      if (answer === undefined) throw new NeedQuery(sql);
      // agate prints to stdout where the render is: said as `print()` says.
      return agateTable(answer, (columns, rows, args) => {
        const { positional, kwargs } = splitKwargs(args);
        const options = Object.fromEntries(
          ["max_rows", "max_columns", "output", "max_column_width", "locale", "max_precision"]
            .map((name, i) => [name, kwargs[name] ?? positional[i]])
            .filter(([, value]) => value !== undefined),
        );
        this.say(printTableLines(columns, rows, options), s);
      });
    };
    // Whether statements reach the warehouse in this render (execute, with the query replay): the
    // adapter's macros would read a stale load_result otherwise.
    const canQuery = () => current()?.execute === true && current()?.answers !== undefined;
    g("run_query", (sql) => runQuery(String(sql)));
    g("statement", (...args) => {
      const { positional, kwargs } = splitKwargs(args);
      const name = String(positional[0] ?? kwargs.name ?? "statement");
      const fetch = positional[1] ?? kwargs.fetch_result ?? false;
      const caller = kwargs.caller as (() => unknown) | undefined;
      const sql = caller ? String(caller()) : "";
      const table = runQuery(sql);
      if (table !== null) {
        this.#results.set(name, {
          response: { _message: "OK", code: "OK", rows_affected: -1 },
          data: fetch ? (table as { rows: unknown[] }).rows : [],
          table: fetch ? table : null,
        });
      }
      return "";
    });
    g("load_result", (name) => this.#results.get(String(name)) ?? null);
    // store_result / store_raw_result: what a materialization records for a statement it did not
    // run through `statement` (dbt's noop_statement, custom materializations), read back by
    // load_result.
    g("store_result", (...args) => {
      const { positional, kwargs } = splitKwargs(args);
      const name = String(kwargs.name ?? positional[0]);
      const table = kwargs.agate_table ?? positional[2] ?? null;
      this.#results.set(name, {
        response: kwargs.response ?? positional[1] ?? null,
        data: (table as { rows?: unknown[] } | null)?.rows ?? [],
        table,
      });
      return "";
    });
    g("store_raw_result", (...args) => {
      const { positional, kwargs } = splitKwargs(args);
      const name = String(kwargs.name ?? positional[0]);
      const table = kwargs.agate_table ?? positional[4] ?? null;
      this.#results.set(name, {
        response: {
          _message: kwargs.message ?? positional[1] ?? null,
          code: kwargs.code ?? positional[2] ?? null,
          rows_affected: kwargs.rows_affected ?? positional[3] ?? null,
        },
        data: (table as { rows?: unknown[] } | null)?.rows ?? [],
        table,
      });
      return "";
    });
    this.#env.addGlobal("adapter", {
      dispatch: guard((...args: unknown[]) => {
        // dispatch(name, macro_namespace=None, packages=None); older packages pass `packages`.
        const { positional, kwargs } = splitKwargs(args);
        const namespace = positional[1] ?? kwargs.macro_namespace;
        const packages = positional[2] ?? kwargs.packages;
        return this.#dispatchMacro(
          String(positional[0] ?? kwargs.macro_name),
          typeof namespace === "string" ? namespace : undefined,
          Array.isArray(packages) ? packages.map(String) : undefined,
        );
      }),
      quote: (name: unknown) => quote(String(name)),
      type: () => current()?.target.type,
      get_relation: guard((...args: unknown[]) => {
        const { positional, kwargs } = splitKwargs(args);
        return lookupRelation(
          String(kwargs.schema ?? positional[1] ?? ""),
          String(kwargs.identifier ?? positional[2] ?? ""),
        );
      }),
      get_columns_in_relation: guard((relation: unknown) => columnsOf(relation)),
      get_columns_in_table: guard((schema: unknown, identifier: unknown) =>
        columnsIn(String(schema), String(identifier))
      ),
      already_exists: guard((schema: unknown, identifier: unknown) =>
        lookupRelation(String(schema), String(identifier)) !== null
      ),
      get_missing_columns: guard((from: unknown, to: unknown) => {
        const present = new Set(columnsOf(to).map((c) => (c as { name: string }).name));
        return columnsOf(from).filter((c) => !present.has((c as { name: string }).name));
      }),
      // Statements on relations and schemas (drop, rename, list...), through the query replay.
      ...Object.fromEntries(
        Object.entries(adapterWarehouseMethods({
          executing: canQuery,
          macro: (name, args) => this.#adapterMacro(name).fn(...args),
          columns: (relation) => columnsOf(relation),
          database: () => String(current()?.target.database ?? ""),
          quote,
          fail: (message) => {
            throw new ScopeError(DbtErrorCode.renderFailed, message);
          },
        })).map(([name, fn]) => [name, guard(fn)]),
      ),
    });
    // Warehouse look-ups through the query replay: at parse time (no answers) they find
    // nothing; a node using them is compiled again at build time with the real answers.
    const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
    const lookupRelation = (schema: string, identifier: string): unknown => {
      const table = runQuery(
        "select table_schema, table_name, table_type from information_schema.tables " +
          `where table_schema = ${literal(schema)} and table_name = ${literal(identifier)}`,
      ) as { rows: unknown[][] } | null;
      const row = table?.rows[0];
      if (!row) return null;
      const view = String(row[2]).toUpperCase() === "VIEW";
      const relation = new Relation(String(current()?.target.database ?? ""), schema, identifier);
      relation.type = view ? "view" : "table";
      return relation;
    };
    // dbt-adapters' get_columns_in_relation runs the macro of its name (dispatching to
    // `<adapter>__get_columns_in_relation`), so a project's own version is what it gives.
    const columnsOf = (relation: unknown): JinjaColumn[] => {
      const rel = relation as { schema?: unknown; identifier?: unknown } | null;
      if (!rel || rel.schema === undefined || rel.identifier === undefined) return [];
      if (!canQuery()) return [];
      const found = this.#adapterMacro("get_columns_in_relation").fn(relation);
      return Array.isArray(found) ? found as JinjaColumn[] : [];
    };
    const columnsIn = (schema: string, identifier: string): JinjaColumn[] =>
      columnsOf(new Relation(String(current()?.target.database ?? ""), schema, identifier));

    this.#env.addGlobal("api", {
      Relation: {
        // dbt-adapters' BaseRelation.create leaves a database it is not given out (None):
        // `api.Relation.create(schema='s', identifier='t')` prints "s"."t", not the target's.
        create: (...args: unknown[]) => {
          const { positional, kwargs } = splitKwargs(args);
          const relation = new Relation(
            String(kwargs.database ?? positional[0] ?? ""),
            String(kwargs.schema ?? positional[1] ?? ""),
            String(kwargs.identifier ?? positional[2] ?? ""),
          );
          if (typeof kwargs.type === "string") relation.type = kwargs.type;
          return relation;
        },
      },
      Column: apiColumn(quote),
    });
  }

  /**
   * Sets how `ref(name, v=...)` finds its node (versioned models); throws a
   * RangeError for a version that does not exist.
   */
  setRefResolver(resolve: (name: string, version: unknown) => string): void {
    this.#resolveRef = resolve;
  }

  /** The node `ref(name)` (or `ref(name, v=version)`) reads. */
  resolveRef(name: string, version?: unknown): string {
    return this.#resolveRef(name, version);
  }

  /** Names of the macros of `packageName` loaded so far (default: the root project). */
  macrosOf(packageName: string = this.#root): readonly string[] {
    return [...(this.#macros.get(packageName)?.keys() ?? [])];
  }

  /**
   * Every loaded macro as `[package, name]`. The same array until a macro is
   * loaded: every node's `depends_on.macros` reads it (10k nodes made 10k
   * copies of the 82-macro list, ~0.15 s of a 10k-model manifest's write).
   */
  get macros(): readonly (readonly [string, string])[] {
    this.#macroList ??= [...this.#macros].flatMap(([pkg, map]) =>
      [...map.keys()].map((n) => [pkg, n] as const)
    );
    return this.#macroList;
  }

  /** Whether the root project (or `packageName`) defines a macro of that name. */
  hasMacro(name: string, packageName: string = this.#root): boolean {
    return this.#macros.get(packageName)?.has(name) ?? false;
  }

  /**
   * Compiles `source`; throws `dbt.jinja_syntax` with the file and line of a
   * syntax error.
   */
  compile(source: string, file: string): CompiledTemplate {
    // The global project's macros, compiled when this runner was built (jinja/precompiled.ts).
    const built = precompiledTemplate(source, file);
    if (built !== undefined) {
      const template = new nunjucks.Template(
        { type: "code", obj: built } as unknown as string,
        this.#env,
        file,
        true,
      );
      return { file, template };
    }
    const text = templateText(source);
    const shared = this.#shared(text);
    if (shared !== undefined) {
      const template = new nunjucks.Template(
        { type: "code", obj: shared } as unknown as string,
        this.#env,
        file,
        true,
      );
      return { file, template };
    }
    try {
      const key = digest(`${file}\0${text}`);
      const code = this.#cache.template(key, () => compileToCode(text, file));
      // nunjucks builds a template from compiled code the way it loads precompiled ones. The
      // functions are kept for the process: a reload after an edit builds only what changed.
      let props = LOADED.get(key);
      if (props === undefined) {
        props = new Function(code)() as Record<string, unknown>;
        LOADED.set(key, props);
        if (LOADED.size > LOADED_MAX) LOADED.delete(LOADED.keys().next().value as string);
      }
      const template = new nunjucks.Template(
        { type: "code", obj: props } as unknown as string,
        this.#env,
        file,
        true,
      );
      return { file, template };
    } catch (error) {
      let cause: unknown = error;
      if (!(error instanceof Error) || !/\[Line \d+/.test(error.message)) {
        // The bare compiler's errors carry no path or line: let Template say them.
        try {
          new nunjucks.Template(text, this.#env, file, true);
        } catch (pretty) {
          cause = pretty;
        }
      }
      const message = toError(cause).message;
      const line = lineFrom(message, false);
      const opened = line === undefined ? unclosedLine(text, message) : undefined;
      throw new DbtError(
        DbtErrorCode.jinjaSyntax,
        `Jinja syntax error: ${firstMessageLine(message)}` +
          (opened === undefined ? "" : ` (what opens on line ${opened} is never closed)`),
        { file, line: line ?? opened },
        cause,
      );
    }
  }

  /**
   * The functions of a template from the code of its skeleton (jinja/skeleton.ts), compiled
   * once per process (and kept in the parse cache) for every template of that shape; undefined
   * when it has none, or its skeleton's code cannot be shared.
   */
  #shared(text: string): Record<string, unknown> | undefined {
    const split = splitTemplate(text);
    if (split === undefined) return undefined;
    let shared = SHARED.get(split.text);
    if (shared === undefined || this.#cache.persistent) {
      let code: string | undefined;
      const compile = () => {
        try {
          return compileToCode(split.text, SKELETON_FILE);
        } catch {
          return ""; // a syntax error: the template's own compile reports it
        }
      };
      if (this.#cache.persistent) {
        code = this.#cache.template(digest(`skeleton\0${split.text}`), compile);
      }
      if (shared === undefined) {
        code ??= compile();
        shared = (code === "" ? undefined : sharedCode(split.text, code)) ?? null;
        SHARED.set(split.text, shared);
        if (SHARED.size > LOADED_MAX) SHARED.delete(SHARED.keys().next().value as string);
      }
    }
    if (shared === null) return undefined;
    const positions = positionsOf(shared, split, text);
    return positions === undefined ? undefined : shared.make(split.values, positions);
  }

  /**
   * Loads the macros of one file (`{% macro name(...) %}`, `{% test name %}`)
   * of `packageName`. Throws `dbt.invalid_project` when the package already
   * has a macro of that name.
   */
  loadMacros(source: string, file: string, packageName: string, scope: RenderScope): string[] {
    const compiled = this.compile(source, file);
    let exported: Record<string, unknown> = {};
    this.#withScope(scope, compiled.file, () => {
      // getExported is public in nunjucks but missing from @types/nunjucks.
      const template = compiled.template as unknown as {
        getExported(cb: (error: Error | null, value: unknown) => void): void;
      };
      template.getExported((error, value) => {
        if (error) throw error;
        exported = value as Record<string, unknown>;
      });
    });
    this.#macroList = undefined;
    let own = this.#macros.get(packageName);
    if (!own) {
      own = new Map();
      this.#macros.set(packageName, own);
    }
    const names: string[] = [];
    const blocks = macroBlocks(source);
    for (const [name, macro] of Object.entries(exported)) {
      if (typeof macro !== "function") continue;
      const previous = own.get(name);
      if (previous !== undefined) {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `macro '${name}' is already defined in ${previous.file}; rename one of them`,
          { file },
        );
      }
      const fn = this.#inPackage(packageName, name, macro as MacroFn);
      own.set(name, { fn, file, packageName, sql: blocks.get(name) ?? "" });
      this.#namespace(packageName)[name] = fn;
      names.push(name);
      // Unqualified names resolve at call time (root, then the current package, then dbt).
      if (!Object.hasOwn(this.#globals, name) || this.#isResolver(name)) {
        const resolver = (...args: unknown[]) => {
          const found = this.#lookup(name);
          if (!found) {
            throw new ScopeError(DbtErrorCode.renderFailed, `macro '${name}' is not defined here`);
          }
          return found.fn(...args);
        };
        (resolver as unknown as { __resolver: boolean }).__resolver = true;
        this.#env.addGlobal(name, resolver);
      }
    }
    return names;
  }

  #isResolver(name: string): boolean {
    const value = (this.#globals as Record<string, unknown>)[name] as
      | { __resolver?: boolean }
      | undefined;
    return value?.__resolver === true;
  }

  /** `dbt_utils.x`: a global object per package holding its macros. */
  #namespace(packageName: string): Record<string, MacroFn> {
    let ns = this.#namespaces.get(packageName);
    if (!ns) {
      ns = {};
      this.#namespaces.set(packageName, ns);
      if (!Object.hasOwn(this.#globals, packageName) || packageName === GLOBAL_PACKAGE) {
        this.#env.addGlobal(packageName, ns);
      }
    }
    return ns;
  }

  /** Runs a macro with its package as the current one (for unqualified calls inside it). */
  #inPackage(packageName: string, name: string, fn: MacroFn): MacroFn {
    const stack = this.#packageStack;
    const overrides = () => this.#scope?.macroOverrides;
    return function (this: unknown, ...args: unknown[]) {
      // A unit test's `overrides: macros:` answer for the macro, however it is reached
      // (by name, as package.name, or through adapter.dispatch).
      const given = overrides();
      if (given !== undefined) {
        if (Object.hasOwn(given, `${packageName}.${name}`)) return given[`${packageName}.${name}`];
        if (Object.hasOwn(given, name)) return given[name];
      }
      stack.push(packageName);
      try {
        return fn.apply(this, args);
      } finally {
        stack.pop();
      }
    };
  }

  #lookup(name: string): LoadedMacro | undefined {
    const currentPackage = this.#packageStack.at(-1) ?? this.#scope?.packageName ?? this.#root;
    for (const pkg of [this.#root, currentPackage, GLOBAL_PACKAGE]) {
      const found = this.#macros.get(pkg)?.get(name);
      if (found) return found;
    }
    for (const map of this.#macros.values()) {
      const found = map.get(name);
      if (found) return found;
    }
    return undefined;
  }

  /** The package search order of `adapter.dispatch` for a namespace. */
  searchOrder(namespace: string | undefined): string[] {
    if (namespace === undefined) {
      const current = this.#packageStack.at(-1) ?? this.#scope?.packageName ?? this.#root;
      return [...new Set([this.#root, current, GLOBAL_PACKAGE])];
    }
    const configured = this.#dispatch[namespace];
    if (configured) return [...configured];
    if (namespace === GLOBAL_PACKAGE) return [this.#root, GLOBAL_PACKAGE];
    return [this.#root, namespace];
  }

  #dispatchMacro(name: string, namespace: string | undefined, packages?: string[]): MacroFn {
    const order = packages ?? this.searchOrder(namespace);
    const tried: string[] = [];
    for (const pkg of order) {
      const macros = this.#macros.get(pkg);
      for (const prefix of this.#prefixes) {
        const candidate = `${prefix}__${name}`;
        tried.push(`${pkg}.${candidate}`);
        const found = macros?.get(candidate);
        if (found) return found.fn;
      }
    }
    throw new ScopeError(
      DbtErrorCode.renderFailed,
      `adapter.dispatch('${name}'${namespace ? `, '${namespace}'` : ""}${
        packages ? `, packages=[${packages.join(", ")}]` : ""
      }) found no implementation; tried ${tried.join(", ")}`,
    );
  }

  /**
   * The macro an adapter method runs (dbt-adapters' `execute_macro`): the
   * root project's of that name, else a package's, else the global
   * project's (which dispatches to `<adapter>__name`).
   */
  #adapterMacro(name: string): LoadedMacro {
    const packages = [
      this.#root,
      ...[...this.#macros.keys()].filter((p) => p !== this.#root && p !== GLOBAL_PACKAGE),
      GLOBAL_PACKAGE,
    ];
    for (const pkg of packages) {
      const found = this.#macros.get(pkg)?.get(name);
      if (found) return found;
    }
    throw new ScopeError(
      DbtErrorCode.renderFailed,
      `adapter.${name}() runs macro '${name}', which no project defines`,
    );
  }

  /** Calls a macro of the root project (else the global project) with `args` in `scope`. */
  callMacro(name: string, args: readonly unknown[], scope: RenderScope): string {
    const found = this.#macros.get(this.#root)?.get(name) ??
      this.#macros.get(GLOBAL_PACKAGE)?.get(name);
    if (!found) throw new RangeError(`Cannot call macro '${name}': not defined`);
    return this.#withScope(scope, found.file, () => String(found.fn(...args)));
  }

  /**
   * Finds macro `name` (in `packageName` when given, else by dbt's lookup
   * order), or undefined.
   */
  findMacro(
    name: string,
    packageName?: string,
  ): { file: string; packageName: string; sql: string } | undefined {
    const found = packageName === undefined
      ? this.#lookup(name)
      : this.#macros.get(packageName)?.get(name);
    return found && { file: found.file, packageName: found.packageName, sql: found.sql };
  }

  /**
   * The macro of materialization `name` by dbt's resolution: one for the
   * adapter's type before a `default` one, and at the same specificity the
   * root project's before a package's before the global project's. A
   * package's `table`, `view`, `incremental`... is not taken (dbt's
   * require_explicit_package_overrides_for_builtin_materializations).
   */
  findMaterialization(
    name: string,
    builtin: boolean,
  ): { macro: string; packageName: string; file: string } | undefined {
    const packages = [
      this.#root,
      ...[...this.#macros.keys()].filter((p) => p !== this.#root && p !== GLOBAL_PACKAGE)
        .filter(() => !builtin),
      GLOBAL_PACKAGE,
    ];
    for (const prefix of this.#prefixes) {
      const macro = `materialization_${name}_${prefix}`;
      for (const pkg of packages) {
        const found = this.#macros.get(pkg)?.get(macro);
        if (found) return { macro, packageName: pkg, file: found.file };
      }
    }
    return undefined;
  }

  /**
   * Calls macro `name` of `packageName` without arguments and gives what it
   * returns (`{{ return(...) }}`), with `run_query`/`statement` answered by
   * `query` as {@linkcode renderAsync} does: a materialization runs so.
   */
  callMacroValueAsync(
    name: string,
    packageName: string,
    scope: RenderScope,
    query: (sql: string) => Promise<QueryResult>,
  ): Promise<unknown> {
    const found = this.#macros.get(packageName)?.get(name);
    if (!found) throw new RangeError(`Cannot call macro '${name}': not defined`);
    return this.#replay(
      found.file,
      scope,
      query,
      (s) => this.#withScope(s, found.file, () => found.fn()),
    );
  }

  /** Calls macro `name` (see {@linkcode findMacro}) with keyword arguments in `scope`. */
  callMacroWith(
    name: string,
    packageName: string | undefined,
    kwargs: Readonly<Record<string, unknown>>,
    scope: RenderScope,
  ): string {
    const found = packageName === undefined
      ? this.#lookup(name)
      : this.#macros.get(packageName)?.get(name);
    if (!found) throw new RangeError(`Cannot call macro '${name}': not defined`);
    return this.#withScope(
      scope,
      found.file,
      () => String(found.fn({ ...kwargs, __keywords: true })),
    );
  }

  /**
   * Renders a compiled template in `scope`. A failure is a {@linkcode DbtError}
   * naming the file and line: the compiler's own (unknown ref...) keeps its code,
   * anything else is `dbt.render_failed`. A render that needs a query it has
   * no answer for throws {@linkcode QueryNeeded} (see {@linkcode renderAsync}).
   */
  render(compiled: CompiledTemplate, scope: RenderScope): string {
    return this.#withScope(scope, compiled.file, () => compiled.template.render({}));
  }

  /** Says `messages` where a render in `scope` would (see {@linkcode JinjaEnvOptions.onLog}). */
  say(messages: readonly string[], scope: RenderScope): void {
    const sink = scope.onLog ?? this.#onLog;
    for (const m of messages) sink?.(m);
  }

  /**
   * Renders with `run_query`/`statement` answered by `query`: each time the
   * render needs an answer it does not have, the query runs and the render
   * starts again with every answer so far.
   */
  renderAsync(
    compiled: CompiledTemplate,
    scope: RenderScope,
    query: (sql: string) => Promise<QueryResult>,
  ): Promise<string> {
    return this.#replay(compiled.file, scope, query, (s) => this.render(compiled, s));
  }

  /**
   * {@linkcode callMacroWith} with `run_query`/`statement` answered by
   * `query`, as {@linkcode renderAsync} does for a template: a generic test
   * whose macro reads the warehouse (columns of the model) is rendered so at
   * run time.
   */
  callMacroAsync(
    name: string,
    packageName: string | undefined,
    kwargs: Readonly<Record<string, unknown>>,
    scope: RenderScope,
    query: (sql: string) => Promise<QueryResult>,
  ): Promise<string> {
    const file = this.findMacro(name, packageName)?.file ?? name;
    return this.#replay(
      file,
      scope,
      query,
      (s) => this.callMacroWith(name, packageName, kwargs, s),
    );
  }

  async #replay<T>(
    file: string,
    scope: RenderScope,
    query: (sql: string) => Promise<QueryResult>,
    render: (scope: RenderScope) => T,
  ): Promise<T> {
    const answers: QueryResult[] = [];
    for (let attempt = 0; attempt < 1000; attempt++) {
      // Each attempt replays the render: only the last one's messages are said, once.
      const said: string[] = [];
      try {
        const sql = render({
          ...scope,
          execute: true,
          answers,
          onLog: (m) => said.push(m),
        });
        this.say(said, scope);
        return sql;
      } catch (error) {
        if (!(error instanceof QueryNeeded)) {
          this.say(said, scope);
          throw error;
        }
        answers.push(await query(error.sql));
      }
    }
    throw new DbtError(DbtErrorCode.renderFailed, "more than 1000 run_query calls in one render", {
      file,
    });
  }

  #withScope<T>(scope: RenderScope, file: string, fn: () => T): T {
    const outer = this.#scope;
    const outerIndex = this.#queryIndex;
    this.#scope = scope;
    this.#queryIndex = 0;
    this.#thrown = undefined;
    // Each node's render has its own statement results, as dbt's per-node context: a
    // `load_result` of a statement this render did not run is none, not another node's answer.
    if (outer === undefined) this.#results.clear();
    try {
      // dbt compiles (execute) with Jinja2's Undefined, which raises on `undefined.attr`, and
      // parses with a lenient one (undefined.ts).
      return strictUndefined(scope.execute === true, fn);
    } catch (error) {
      if (error instanceof DbtError) throw error;
      const message = toError(error).message;
      const line = lineFrom(message, true);
      const undefinedError = undefinedErrorIn(error);
      if (undefinedError !== undefined) {
        // dbt's UndefinedMacroError: the same words, with this runner's deps command.
        throw new DbtError(
          DbtErrorCode.renderFailed,
          `${undefinedError.message}. This can happen when calling a macro that does not exist. ` +
            "Check for typos and/or install package dependencies with `deno task dbt deps`.",
          { file, line },
          error,
        );
      }
      const thrown = this.#thrown;
      if (thrown instanceof NeedQuery) throw new QueryNeeded(thrown.sql, file);
      if (thrown instanceof ScopeError) {
        throw new DbtError(thrown.code, thrown.message, { file, line }, error);
      }
      if (thrown instanceof DbtError) throw thrown;
      if (error instanceof ReturnSignal || message.includes(RETURN_OUTSIDE_MACRO)) {
        throw new DbtError(
          DbtErrorCode.renderFailed,
          "return() is called outside a macro: it ends a {% macro %} and gives its caller a " +
            "value; at the top of a model or test, write the SQL as text or move the logic into a macro",
          { file, line },
          error,
        );
      }
      const missing = /Unable to call `(\w+)\["(\w+)"\]`/.exec(message);
      if (missing && !this.#macros.has(missing[1] as string)) {
        throw new DbtError(
          DbtErrorCode.renderFailed,
          `'${missing[1]}.${missing[2]}' is not defined: '${missing[1]}' is neither a value ` +
            `with a '${missing[2]}' method nor an installed package (run \`deno task dbt deps\`)`,
          { file, line },
          error,
        );
      }
      throw new DbtError(
        DbtErrorCode.renderFailed,
        `cannot render: ${firstMessageLine(message)}`,
        { file, line },
        error,
      );
    } finally {
      this.#scope = outer;
      this.#queryIndex = outerIndex;
    }
  }
}

/** A render stopped because it needs the answer of a query (`run_query`, `statement`). */
export class QueryNeeded extends DbtError {
  /** The SQL to run. */
  readonly sql: string;
  /** Creates it for `sql` asked by `file`. */
  constructor(sql: string, file: string) {
    super(
      DbtErrorCode.renderFailed,
      "run_query() needs a warehouse connection at this point",
      { file },
    );
    this.sql = sql;
  }
}

/** Options of {@linkcode renderString}. */
export interface RenderStringOptions {
  /** Reads an environment variable. */
  readonly env: (name: string) => string | undefined;
  /** File the string comes from (for errors). */
  readonly file: string;
  /** Line the string is on (for errors). */
  readonly line?: number | undefined;
  /** Vars `var()` may read (dbt_project.yml configs); absent: only defaults work. */
  readonly vars?: Readonly<Record<string, unknown>> | undefined;
  /** `target` values. */
  readonly target?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Whether `env_var('DBT_ENV_SECRET_...')` may be read: only in
   * profiles.yml and packages.yml, as in dbt.
   */
  readonly allowSecrets?: boolean | undefined;
}

let stringEnv: JinjaEnv | undefined;

/**
 * Renders one short template that may use `env_var()` and `var()`
 * (profiles.yml and dbt_project.yml values).
 *
 * @example
 * ```ts
 * import { renderString } from "./env.ts";
 * renderString("{{ env_var('HOST', 'localhost') }}", { env: () => undefined, file: "profiles.yml" });
 * // "localhost"
 * ```
 */
export function renderString(text: string, options: RenderStringOptions): string {
  stringEnv ??= new JinjaEnv();
  const env = stringEnv;
  const refuse = (what: string): never =>
    raiseInRender(DbtErrorCode.renderFailed, `${what} cannot be used in ${options.file}`);
  const vars = options.vars;
  const scope: RenderScope = {
    ref: () => refuse("ref()"),
    source: () => refuse("source()"),
    config: () => refuse("config()"),
    var: (name, fallback, hasDefault) => {
      if (vars && Object.hasOwn(vars, name)) return vars[name];
      return hasDefault ? fallback : refuse(`var('${name}') without a default`);
    },
    envVar: (name, fallback) =>
      envVarOf(options.env, name, fallback, options.allowSecrets === true),
    isIncremental: () => false,
    self: undefined,
    target: options.target ?? {},
  };
  try {
    return env.render(env.compile(text, options.file), scope).trim();
  } catch (error) {
    if (error instanceof DbtError && options.line !== undefined) {
      throw new DbtError(error.code, error.message.replace(/^[^:]+(:\d+)?: /, ""), {
        file: options.file,
        line: options.line,
      }, error);
    }
    throw error;
  }
}

/**
 * Renders a YAML value as dbt does for dbt_project.yml configs: strings with
 * `{{`/`{%` are rendered, then read back as a native value (`"true"` becomes
 * `true`, `"3"` becomes `3`); lists and maps are rendered throughout.
 */
export function renderValue(value: unknown, options: RenderStringOptions): unknown {
  if (typeof value === "string") {
    if (!value.includes("{{") && !value.includes("{%")) return value;
    const text = renderString(value, options);
    if (text === "True" || text === "true") return true;
    if (text === "False" || text === "false") return false;
    if (text === "None" || text === "none") return null;
    if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    return text;
  }
  if (Array.isArray(value)) return value.map((v) => renderValue(v, options));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderValue(v, options)]),
    );
  }
  return value;
}

/** Names dbt keeps out of everything but profiles.yml and packages.yml. */
const SECRET_ENV_PREFIX = "DBT_ENV_SECRET_";

/**
 * `env_var()`: the variable, else the default, else a render error naming
 * it. A secret (`DBT_ENV_SECRET_...`) is refused unless `allowSecrets` (dbt's
 * SecretEnvVarLocationError): read in a model, macro or property file its
 * value would be written into compiled SQL, target/ and manifest.json.
 */
export function envVarOf(
  env: (name: string) => string | undefined,
  name: string,
  fallback: string | undefined,
  allowSecrets = false,
): string {
  if (!allowSecrets && name.startsWith(SECRET_ENV_PREFIX)) {
    return raiseInRender(
      DbtErrorCode.renderFailed,
      `env_var('${name}'): secret env vars (${SECRET_ENV_PREFIX}...) are allowed only in ` +
        `profiles.yml or packages.yml, so they never reach compiled SQL or artifacts; ` +
        `read it in profiles.yml, or rename the variable if it is not a secret`,
    );
  }
  const value = env(name) ?? fallback;
  // dbt scrubs these values from its logs: registered, every CLI line and error masks them
  // (a git URL with a token in packages.yml, repeated by git's own error).
  if (name.startsWith(SECRET_ENV_PREFIX)) registerSecret(value);
  if (value !== undefined) return value;
  return raiseInRender(
    DbtErrorCode.renderFailed,
    `env_var('${name}'): the environment variable is not set and no default is given; ` +
      `set ${name} or write env_var('${name}', 'default')`,
  );
}

/** Whether Python could iterate `value` (a str, list, tuple, dict, set). */
function isIterable(value: unknown): boolean {
  return typeof value === "string" || Array.isArray(value) || isPlainDict(value) ||
    value instanceof Set || value instanceof Map;
}

/** The items Python's iteration gives: characters, elements, or a dict's keys. */
function iterate(value: unknown): unknown[] {
  if (typeof value === "string") return [...value];
  if (Array.isArray(value)) return value;
  if (value instanceof Set || value instanceof Map) return [...value.keys()];
  return dictKeys(value as Record<string, unknown>);
}

/**
 * dbt's diff_of_two_dicts(dict_a, dict_b): dict_a minus dict_b, both
 * `{key: [str]}`, comparing keys and values without case; keys keep dict_a's case.
 */
function diffOfTwoDicts(a: unknown, b: unknown): Record<string, unknown> {
  const fold = (text: unknown) => String(text).toLowerCase();
  const lowered = new Map<string, string[]>();
  for (const [key, values] of Object.entries((b ?? {}) as Record<string, unknown>)) {
    lowered.set(fold(key), iterate(values).map(fold));
  }
  const diff: Record<string, unknown> = {};
  for (const [key, values] of Object.entries((a ?? {}) as Record<string, unknown>)) {
    const other = lowered.get(fold(key));
    if (other === undefined) diff[key] = values;
    else {
      const left = iterate(values).filter((v) => !other.includes(fold(v)));
      if (left.length > 0) diff[key] = left;
    }
  }
  return diff;
}
