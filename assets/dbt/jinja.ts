/**
 * Jinja for dbt, on nunjucks (a well-kept Jinja implementation for
 * JavaScript): the dbt context (`ref`, `source`, `config`, `var`, `env_var`,
 * `this`, `target`, `is_incremental`) and project macros as globals.
 *
 * Rendering is synchronous, so the globals read the scope of the template
 * being rendered from one mutable slot; macros, which nunjucks binds to the
 * file that defines them, see the same functions that way.
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";
import { DbtError, DbtErrorCode } from "./errors.ts";
import { ParseCache } from "./_cache.ts";
import { digest } from "./_files.ts";
import { addDbtFilters, installJinjaCompat } from "./_jinja_compat.ts";

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
  return compiler.compile(source, [], [], file, { throwOnUndefined: false });
}

/** A relation as Jinja sees it: prints as `"schema"."identifier"`. */
export class Relation {
  /** Database (catalog) name. */
  readonly database: string;
  /** Schema name. */
  readonly schema: string;
  /** Table or view name. */
  readonly identifier: string;
  /** For an ephemeral model: the CTE name it prints as instead. */
  readonly cte: string | undefined;

  /** Creates a relation; `cte` makes it print as that CTE name. */
  constructor(database: string, schema: string, identifier: string, cte?: string) {
    this.database = database;
    this.schema = schema;
    this.identifier = identifier;
    this.cte = cte;
  }

  /** Same as `identifier` (dbt's `this.name`). */
  get name(): string {
    return this.identifier;
  }

  /** `"schema"."identifier"`, or the CTE name for an ephemeral model. */
  toString(): string {
    return this.cte ?? `${quote(this.schema)}.${quote(this.identifier)}`;
  }
}

/** Double-quotes an identifier, doubling embedded quotes. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** What one render can call; the compiler gives a new scope per template. */
export interface RenderScope {
  /** `ref('model')`. */
  ref(name: string): Relation;
  /** `source('source', 'table')`. */
  source(sourceName: string, tableName: string): Relation;
  /** `config(materialized='table', ...)`, keyword arguments as an object. */
  config(values: Readonly<Record<string, unknown>>): void;
  /** `var('name', default)`; `hasDefault` tells `var('x', none)` from `var('x')`. */
  var(name: string, fallback: unknown, hasDefault: boolean): unknown;
  /** `env_var('NAME', default)`. */
  envVar(name: string, fallback: string | undefined): string;
  /** `is_incremental()`. */
  isIncremental(): boolean;
  /** `this`, the relation being built. */
  readonly self: Relation | undefined;
  /** `target` (name, schema, type, database...). */
  readonly target: Readonly<Record<string, unknown>>;
}

/** An error a global raises; turned into a {@linkcode DbtError} with the line by `render`. */
class ScopeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
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

function splitKwargs(args: unknown[]): { positional: unknown[]; kwargs: Kwargs } {
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

/** A compiled template and the file it came from. */
export interface CompiledTemplate {
  /** Project-relative file. */
  readonly file: string;
  /** 1-based line the template starts at within the file (macros in a bigger file). */
  readonly template: nunjucks.Template;
}

/**
 * The Jinja environment of one project: macros from `macros/` and the dbt
 * context functions as globals.
 */
export class JinjaEnv {
  readonly #env: nunjucks.Environment;
  #scope: RenderScope | undefined;
  #thrown: unknown;
  readonly #macros = new Map<string, string>();
  readonly #cache: ParseCache;

  /** Creates an environment with the dbt context functions; `cache` keeps compiled templates. */
  constructor(cache: ParseCache = ParseCache.empty()) {
    this.#cache = cache;
    installJinjaCompat();
    this.#env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: false });
    addDbtFilters(this.#env);
    const scope = (): RenderScope => {
      if (!this.#scope) throw new ScopeError(DbtErrorCode.renderFailed, "no render in progress");
      return this.#scope;
    };
    const guard = <A extends unknown[], T>(fn: (...args: A) => T) => (...args: A): T => {
      try {
        return fn(...args);
      } catch (error) {
        this.#thrown = error;
        throw error;
      }
    };
    const g = (name: string, fn: (...args: unknown[]) => unknown) =>
      this.#env.addGlobal(name, guard(fn));
    g("ref", (...args) => {
      const { positional } = splitKwargs(args);
      const name = positional.length >= 2 ? positional[1] : positional[0];
      return scope().ref(String(name));
    });
    g("source", (a, b) => scope().source(String(a), String(b)));
    g("config", (...args) => {
      scope().config(splitKwargs(args).kwargs);
      return "";
    });
    g("var", (...args) => {
      const { positional } = splitKwargs(args);
      return scope().var(String(positional[0]), positional[1], positional.length > 1);
    });
    g(
      "env_var",
      (name, fallback) =>
        scope().envVar(String(name), fallback === undefined ? undefined : String(fallback)),
    );
    g("is_incremental", () => scope().isIncremental());
    g("log", () => "");
    this.#env.addGlobal("exceptions", {
      raise_compiler_error: guard((message: unknown) => {
        throw new ScopeError(DbtErrorCode.renderFailed, String(message));
      }),
      warn: () => "",
    });
    // `this` and `target` read the current scope, so macros see them too.
    const current = () => this.#scope;
    this.#env.addGlobal("this", {
      get schema() {
        return current()?.self?.schema;
      },
      get identifier() {
        return current()?.self?.identifier;
      },
      get name() {
        return current()?.self?.identifier;
      },
      get database() {
        return current()?.self?.database;
      },
      toString: () => current()?.self?.toString() ?? "",
    });
    this.#env.addGlobal("target", {
      get name() {
        return current()?.target.name;
      },
      get schema() {
        return current()?.target.schema;
      },
      get type() {
        return current()?.target.type;
      },
      get database() {
        return current()?.target.database;
      },
    });
  }

  /** Names of the macros loaded so far. */
  get macros(): readonly string[] {
    return [...this.#macros.keys()];
  }

  /** Whether a macro of that name is loaded. */
  hasMacro(name: string): boolean {
    return this.#macros.has(name);
  }

  /**
   * Compiles `source`; throws `dbt.jinja_syntax` with the file and line of a
   * syntax error.
   */
  compile(source: string, file: string): CompiledTemplate {
    try {
      const code = this.#cache.template(
        digest(`${file}\0${source}`),
        () => compileToCode(source, file),
      );
      // nunjucks builds a template from compiled code the way it loads precompiled ones.
      const props = new Function(code)() as Record<string, unknown>;
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
          new nunjucks.Template(source, this.#env, file, true);
        } catch (pretty) {
          cause = pretty;
        }
      }
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new DbtError(
        DbtErrorCode.jinjaSyntax,
        `Jinja syntax error: ${firstMessageLine(message)}`,
        { file, line: lineFrom(message, false) },
        cause,
      );
    }
  }

  /**
   * Loads the macros of one file (`{% macro name(...) %}`) as globals.
   * Throws `dbt.invalid_project` when a macro name is already taken.
   */
  loadMacros(source: string, file: string, scope: RenderScope): string[] {
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
    const names: string[] = [];
    for (const [name, macro] of Object.entries(exported)) {
      const previous = this.#macros.get(name);
      if (previous !== undefined) {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `macro '${name}' is already defined in ${previous}; rename one of them`,
          { file },
        );
      }
      this.#macros.set(name, file);
      this.#env.addGlobal(name, macro);
      names.push(name);
    }
    return names;
  }

  /** Calls a loaded macro with `args` in `scope` and returns its output. */
  callMacro(name: string, args: readonly unknown[], scope: RenderScope): string {
    const file = this.#macros.get(name) ?? "macros";
    const macro = this.#env.getGlobal(name) as (...a: unknown[]) => unknown;
    return this.#withScope(scope, file, () => String(macro(...args)));
  }

  /**
   * Renders a compiled template in `scope`. A failure is a {@linkcode DbtError}
   * naming the file and line: the compiler's own (unknown ref...) keeps its code,
   * anything else is `dbt.render_failed`.
   */
  render(compiled: CompiledTemplate, scope: RenderScope): string {
    return this.#withScope(scope, compiled.file, () => compiled.template.render({}));
  }

  #withScope<T>(scope: RenderScope, file: string, fn: () => T): T {
    const outer = this.#scope;
    this.#scope = scope;
    this.#thrown = undefined;
    try {
      return fn();
    } catch (error) {
      if (error instanceof DbtError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      const line = lineFrom(message, true);
      const thrown = this.#thrown;
      if (thrown instanceof ScopeError) {
        throw new DbtError(thrown.code, thrown.message, { file, line }, error);
      }
      if (thrown instanceof DbtError) throw thrown;
      throw new DbtError(
        DbtErrorCode.renderFailed,
        `cannot render: ${firstMessageLine(message)}`,
        { file, line },
        error,
      );
    } finally {
      this.#scope = outer;
    }
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
}

let stringEnv: JinjaEnv | undefined;

/**
 * Renders one short template that may use `env_var()` (profiles.yml values).
 *
 * @example
 * ```ts
 * import { renderString } from "./jinja.ts";
 * renderString("{{ env_var('HOST', 'localhost') }}", { env: () => undefined, file: "profiles.yml" });
 * // "localhost"
 * ```
 */
export function renderString(text: string, options: RenderStringOptions): string {
  stringEnv ??= new JinjaEnv();
  const env = stringEnv;
  const refuse = (what: string): never =>
    raiseInRender(DbtErrorCode.renderFailed, `${what} cannot be used in ${options.file}`);
  const scope: RenderScope = {
    ref: () => refuse("ref()"),
    source: () => refuse("source()"),
    config: () => refuse("config()"),
    var: (name, fallback, hasDefault) =>
      hasDefault ? fallback : refuse(`var('${name}') without a default`),
    envVar: (name, fallback) => envVarOf(options.env, name, fallback),
    isIncremental: () => false,
    self: undefined,
    target: {},
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

/** `env_var()`: the variable, else the default, else a render error naming it. */
export function envVarOf(
  env: (name: string) => string | undefined,
  name: string,
  fallback: string | undefined,
): string {
  const value = env(name);
  if (value !== undefined) return value;
  if (fallback !== undefined) return fallback;
  return raiseInRender(
    DbtErrorCode.renderFailed,
    `env_var('${name}'): the environment variable is not set and no default is given; ` +
      `set ${name} or write env_var('${name}', 'default')`,
  );
}
