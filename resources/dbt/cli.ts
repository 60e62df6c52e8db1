/**
 * `deno task dbt <command>`: a stand-in for dbt-core's CLI over this
 * runner — build, run, test, seed, snapshot, compile, ls, deps, docs
 * generate, source freshness, parse, debug, run-operation, retry, show — with dbt's flags and node
 * selection, dbt-like progress lines, and the same artifacts (run_results
 * `args` filled from the real invocation). Exit codes: 0 success, 1 a node
 * or test failed, 2 a usage or project error.
 *
 * The warehouse is `--warehouse-url`, else WAREHOUSE_URL, else the
 * profile's target: `type: postgres` with a `host` connects to that server;
 * without a host it is the platform's embedded PGlite under STATE_DIR;
 * `type: duckdb` opens its `path` (relative to the project; `:memory:` when
 * absent) with its `extensions` and `settings`, then ATTACHes its `attach:` list.
 * Artifacts go to the project's `target-path`, or under STATE_DIR when it is
 * set (so a read-only code tree works), or to DBT_TARGET_PATH / `--target-path`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Clock, systemClock } from "../../core/clock.ts";
import { ConfigError, toError } from "../../core/errors.ts";
import { wholeNumberOption } from "../../core/cli/_args.ts";
import { closest } from "../../core/suggest.ts";
import { clip, printable, quote } from "../../core/printable.ts";
import { loadConfig } from "../config.ts";
import type { Warehouse } from "../warehouse/types.ts";
import {
  batchTime,
  buildManifest,
  buildRunResults,
  DBT_VERSION,
  inPackage,
  type Json,
  MANIFEST_SCHEMA,
  RUN_RESULTS_SCHEMA,
  type RunResultEntry,
  runResultEntry,
  targetDir,
  writeManifest,
} from "./artifacts.ts";
import { metadataEnv } from "./metadata_env.ts";
import { writeJsonAtomic } from "./_files.ts";
import { cleanProject } from "./clean.ts";
import { SOURCES_SCHEMA } from "./docs_catalog.ts";
import { loadProject } from "./compile/load.ts";
import { parseUtcTime } from "./compile/configs.ts";
import { DbtError, DbtErrorCode } from "./errors.ts";
import type { ProgressEvent, RetryBatches } from "./execute/run.ts";
import type { DbtProject, TestNode } from "./nodes.ts";
import {
  checkResourceTypes,
  INDIRECT_SELECTION,
  type IndirectSelection,
  type SelectionState,
  selectNodes,
} from "./select.ts";
import { yamlValue } from "./project/yaml_value.ts";
import { warehouseDatabase } from "./project/profiles.ts";
import { type StateCheck, stateCheck, type StateManifest } from "./state.ts";

/** Where the CLI writes. */
export interface DbtCliIo {
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a line to stderr. */
  err(line: string): void;
}

/** Options of {@linkcode runDbtCli}. */
export interface DbtCliOptions {
  /** Reads the environment. */
  readonly env?: (name: string) => string | undefined;
  /**
   * Every environment variable, for the `DBT_ENV_CUSTOM_ENV_*` ones dbt writes to
   * artifacts' metadata.env and `dbt_metadata_envs`. Defaults to the process's
   * environment, or none when `env` is given (a test's environment stays its own).
   */
  readonly environ?: () => Readonly<Record<string, string>>;
  /** Clock. */
  readonly clock?: Pick<Clock, "now">;
  /** Fetch for the package hub. */
  readonly fetch?: typeof fetch;
  /**
   * Cancels a running build, run, test, seed or snapshot (SIGTERM, Ctrl-C):
   * the nodes running finish, the rest are skipped, the command exits 1.
   */
  readonly signal?: AbortSignal;
}

const COMMANDS = [
  "build",
  "run",
  "test",
  "seed",
  "snapshot",
  "compile",
  "ls",
  "list",
  "deps",
  "docs",
  "source",
  "parse",
  "debug",
  "run-operation",
  "retry",
  "clean",
  "show",
] as const;

const USAGE = `usage: deno task dbt <command> [flags]
commands: build | run | test | seed | snapshot | compile | ls | deps | docs generate |
          source freshness | parse | debug | run-operation MACRO [--args YAML] | retry | clean |
          show (-s MODEL | --inline "select ... {{ ref('x') }}") [--limit N (default 5; -1: all)]
               [--output text|json]
flags:    -s/--select SPEC... --exclude SPEC... --selector NAME --resource-type TYPE...
          --exclude-resource-type TYPE... --indirect-selection eager|cautious|buildable|empty --[no-]partial-parse (accepted; parsing is cached by content)
          --full-refresh --store-failures --vars YAML -t/--target NAME --project-dir DIR --profiles-dir DIR
          --event-time-start TIME --event-time-end TIME (run, build: microbatch models)
          --empty (run, build: ref() and source() read no rows, models are built schema-only)
          --threads N -x/--fail-fast --state DIR --target-path DIR --warehouse-url URL
          --no-version-check -q/--quiet --log-format text --version
          --[no-]use-colors --[no-]send-anonymous-usage-stats --printer-width N (accepted, no effect)
          --output name|path|json (ls)
          --upgrade (deps: resolve again though package-lock.yml matches) --lock (deps: write
            package-lock.yml only; without them deps installs what the lock pins)
          --warn-error, --warn-error-options '{"include": "all" | [...], "exclude": [...]}'
            (build, test: a warn-severity test that warns fails, exit 1; the one warning
            covered is dbt's LogTestResult, other warnings stay warnings)
exit status: 0 success, 1 a node or test failed, 2 usage or project error`;

/**
 * What to do instead of a dbt command this runner does not provide, said
 * after its name: a dbt user's first commands include `init` and
 * `docs serve`, and a bare "unknown command" left them guessing.
 */
const NOT_PROVIDED: Readonly<Record<string, string>> = {
  init: ": this runner does not create projects; write dbt_project.yml, models/ and a " +
    "profiles.yml as dbt init does (README, 'deno task dbt'), then run 'deno task dbt debug'",
  "docs serve": " is not provided: 'docs generate' writes target/catalog.json and " +
    "manifest.json for any docs viewer; 'deno task ui' shows the models, their SQL and lineage",
};

/** `dbt --version`'s line (also the first line of `dbt debug`). */
function versionLine(): string {
  return `dbt runner (dbt ${DBT_VERSION} artifacts) in Deno ${Deno.version.deno}`;
}

/** Runs one dbt command; returns the exit code. */
export async function runDbtCli(
  argv: readonly string[],
  given: DbtCliIo,
  options: DbtCliOptions = {},
): Promise<number> {
  // Messages quote what was typed (a selector, a target, a path): control characters in it are
  // escaped here once, whoever calls (the platform's CLI escapes its own output too).
  const io: DbtCliIo = {
    out: (line) => given.out(line),
    err: (line) => given.err(printable(line, { keepLines: true })),
  };
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const clock = options.clock ?? systemClock;
  const read = await readInvocation(argv, env, io);
  if (typeof read === "number") return read;
  // dbt's -q/--quiet: only errors and what the command was asked for (ls, compiled SQL).
  const quietIo: DbtCliIo = {
    out: () => {},
    err: (line) => {
      if (!/^(warning|note): /.test(line)) io.err(line);
    },
  };
  const inv: Invocation = {
    ...read,
    env,
    metadataEnv: metadataEnv(options.environ?.() ?? (options.env ? {} : Deno.env.toObject())),
    clock,
    io: read.values.quiet ? quietIo : io,
    results: io,
    signal: options.signal,
  };
  try {
    if (inv.command === "deps") return await depsCommand(inv, options.fetch);
    if (inv.command === "retry") return await retryCommand(inv);
    if (inv.command === "clean") {
      const stateDir = inv.env("STATE_DIR");
      const redirected = !(inv.values["target-path"] ?? inv.env("DBT_TARGET_PATH")) && stateDir;
      return await cleanProject({
        projectDir: inv.projectDir,
        targetDir: redirected ? `${stateDir}/dbt/${projectFolder(inv.projectDir)}` : undefined,
        out: (line) => inv.io.out(line),
      });
    }
    const project = await loadForCli(inv);
    for (const warning of project.warnings) inv.io.err(`warning: ${warning}`);
    if (inv.command === "run-operation") return await runOperationCommand(project, inv);
    // `parse` builds nothing: it selects only to report what the user's selection flags or
    // default selector say (a typo, a selector that fails); without them, selecting every node
    // of a 10k-model project would cost 0.3-0.6 s for nothing.
    if (inv.command === "parse" && !selectsAnything(project, inv)) {
      return await parseCommand(project, inv);
    }
    if (inv.command === "show" && inv.values.inline !== undefined) {
      return await showCommand(project, inv, undefined);
    }
    const ids = await chooseIds(project, inv);
    if (typeof ids === "number") return ids;
    switch (inv.command) {
      case "parse":
        return await parseCommand(project, inv);
      case "ls":
      case "list": {
        const output = inv.values.output ?? "selector";
        if (output === "json") {
          for (const line of listJson(project, ids, inv.values["output-keys"])) io.out(line);
          return 0;
        }
        for (const id of ids) io.out(describeId(project, id, output));
        return 0;
      }
      case "compile":
        return await compileCommand(project, inv, ids);
      case "debug":
        return await debugCommand(project, inv);
      case "show":
        return await showCommand(project, inv, ids);
      default:
        return await warehouseCommand(project, inv, ids);
    }
  } catch (error) {
    if (error instanceof DbtError) {
      io.err(`error: ${error.message}`);
      return error.code === "dbt.model_failed" ? 1 : 2;
    }
    throw error;
  }
}

const FLAGS = {
  select: { type: "string", short: "s", multiple: true },
  models: { type: "string", short: "m", multiple: true },
  exclude: { type: "string", multiple: true },
  selector: { type: "string" },
  "resource-type": { type: "string", multiple: true },
  "exclude-resource-type": { type: "string", multiple: true },
  // Accepted as dbt accepts them: this runner's parse cache is keyed by each file's content,
  // so a full parse and a partial one give the same project.
  "partial-parse": { type: "boolean" },
  "no-partial-parse": { type: "boolean" },
  "full-refresh": { type: "boolean" },
  "store-failures": { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  "indirect-selection": { type: "string" },
  // dbt's global flags about the terminal and telemetry: nothing to change here (no colors, no
  // usage stats are sent), so CI command lines that carry them run as written.
  "use-colors": { type: "boolean" },
  "no-use-colors": { type: "boolean" },
  "send-anonymous-usage-stats": { type: "boolean" },
  "no-send-anonymous-usage-stats": { type: "boolean" },
  "printer-width": { type: "string" },
  "log-format": { type: "string" },
  vars: { type: "string" },
  target: { type: "string", short: "t" },
  "project-dir": { type: "string" },
  "profiles-dir": { type: "string" },
  threads: { type: "string" },
  "fail-fast": { type: "boolean", short: "x" },
  "no-version-check": { type: "boolean" },
  "version-check": { type: "boolean" },
  // `dbt --version`, the first thing a dbt user types.
  version: { type: "boolean" },
  state: { type: "string" },
  "target-path": { type: "string" },
  "warehouse-url": { type: "string" },
  output: { type: "string" },
  "output-keys": { type: "string", multiple: true },
  args: { type: "string" },
  "event-time-start": { type: "string" },
  "event-time-end": { type: "string" },
  inline: { type: "string" },
  limit: { type: "string" },
  "warn-error": { type: "boolean" },
  empty: { type: "boolean" },
  "warn-error-options": { type: "string" },
  upgrade: { type: "boolean" },
  lock: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Flags that take several space-separated values, as dbt's `--select a b` does. */
const MULTI_VALUE = new Set([
  "-s",
  "--select",
  "-m",
  "--models",
  "--exclude",
  "--resource-type",
  "--exclude-resource-type",
  "--output-keys",
]);

/**
 * `argv` with every value that follows a multi-value flag given its own flag
 * (`-s a b` becomes `-s a -s b`): dbt reads `--select a b` as two selectors,
 * and node:util's parseArgs would take `b` as a positional.
 */
function spreadMultiValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  let flag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    // dbt's `--limit -1` (every row): parseArgs would read `-1` as a flag.
    if (arg === "--limit" && /^-\d+$/.test(argv[i + 1] ?? "")) {
      out.push(`--limit=${argv[++i]}`);
      flag = undefined;
      continue;
    }
    if (arg.startsWith("-")) {
      flag = MULTI_VALUE.has(arg) ? arg : undefined;
      out.push(arg);
      if (flag !== undefined && i + 1 < argv.length) out.push(argv[++i] as string);
      continue;
    }
    if (flag !== undefined) out.push(flag);
    out.push(arg);
  }
  return out;
}

type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>>[
  "values"
];

/** One invocation, its flags read and checked. */
interface Invocation {
  readonly command: string;
  readonly values: Flags;
  readonly projectDir: string;
  readonly vars: Record<string, unknown>;
  readonly threads: number | undefined;
  readonly invocationId: string;
  /** run_results.json `args`. */
  readonly args: Record<string, unknown> & { select: string[]; exclude: string[] };
  /** run-operation's macro and its arguments. */
  readonly operation?: { readonly macro: string; readonly args: Record<string, unknown> };
  /** `--event-time-start` / `--event-time-end` (ms, UTC): the batches microbatch models build. */
  readonly eventTime?: { readonly start: number; readonly end: number };
  /** `retry`: the failed batches of microbatch models, by unique id. */
  readonly retry?: ReadonlyMap<string, RetryBatches>;
  readonly env: (name: string) => string | undefined;
  /** The `DBT_ENV_CUSTOM_ENV_*` variables, prefix stripped. */
  readonly metadataEnv: Readonly<Record<string, string>>;
  readonly clock: Pick<Clock, "now">;
  /** Progress, summaries and warnings: nothing but errors under `-q/--quiet`. */
  readonly io: DbtCliIo;
  /** What the command was asked for (compiled SQL, failures), printed even under `--quiet`. */
  readonly results: DbtCliIo;
  /** Cancels a running invocation (see {@linkcode DbtCliOptions.signal}). */
  readonly signal: AbortSignal | undefined;
  /** `--warn-error` / `--warn-error-options`: test warnings (LogTestResult) fail. */
  readonly warnError: boolean;
  /** `show --limit` (default 5; negative: every row). */
  readonly limit: number;
}

/**
 * What is wrong with the command line, said as dbt's other usage errors: Node's
 * text for an unknown flag ended with advice about `--` that only confused here.
 */
function parseError(error: unknown): string {
  const message = toError(error).message;
  if ((error as { code?: unknown }).code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return `error: ${message}`;
  }
  const option = /'(-{1,2}[^']*)'/.exec(message)?.[1] ?? message;
  const near = /^--?[A-Za-z]/.test(option)
    ? closest(option.replace(/^-+/, ""), Object.keys(FLAGS))
    : undefined;
  return `error: Unknown option '${option}'${near ? ` (did you mean '--${near}'?)` : ""}`;
}

/** Reads and checks the command line and environment; an exit code when it cannot go on. */
async function readInvocation(
  argv: readonly string[],
  env: (name: string) => string | undefined,
  io: DbtCliIo,
): Promise<
  Omit<Invocation, "env" | "metadataEnv" | "clock" | "io" | "results" | "signal"> | number
> {
  let parsed;
  try {
    parsed = parseArgs({ args: spreadMultiValues(argv), allowPositionals: true, options: FLAGS });
  } catch (error) {
    io.err(`${parseError(error)}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, sub] = positionals;
  if (values.version && !values.help) {
    io.out(versionLine());
    return 0;
  }
  if (values.help || command === undefined) {
    if (values.help) io.out(USAGE);
    else io.err(USAGE);
    return values.help ? 0 : 2;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    io.err(`unknown command ${quote(clip(command, 60))}${NOT_PROVIDED[command] ?? ""}\n${USAGE}`);
    return 2;
  }
  if (command === "docs" && sub === "serve") {
    io.err(`'docs serve'${NOT_PROVIDED["docs serve"]}\n${USAGE}`);
    return 2;
  }
  if ((command === "docs" && sub !== "generate") || (command === "source" && sub !== "freshness")) {
    io.err(`'${command}' needs '${command === "docs" ? "generate" : "freshness"}'\n${USAGE}`);
    return 2;
  }
  if (command === "run-operation" && (sub === undefined || !MACRO_NAME.test(sub))) {
    io.err(
      `'run-operation' needs the name of a macro (or package.macro), not ${
        quote(clip(sub ?? "", 60))
      }\n${USAGE}`,
    );
    return 2;
  }
  const extra = positionals.slice(
    command === "docs" || command === "source" || command === "run-operation" ? 2 : 1,
  );
  if (extra.length > 0) {
    // dbt refuses them too; going on would build everything instead of what was meant.
    io.err(
      `unexpected argument${extra.length > 1 ? "s" : ""} ${
        extra.slice(0, 5).map((a) => quote(clip(a, 60))).join(" ")
      }${extra.length > 5 ? ` and ${extra.length - 5} more` : ""}: select nodes with ` +
        `-s/--select, e.g. 'dbt ${command} -s ${printable(clip(extra.join(" "), 60))}'\n${USAGE}`,
    );
    return 2;
  }
  const problem = checkEnvironment(env);
  if (problem) {
    io.err(problem);
    return 2;
  }
  const projectDir = await findProjectDir(values["project-dir"] ?? env("DBT_PROJECT_DIR"), env);
  // Like --project-dir, these folders are the user's, relative to where the command was typed
  // (INIT_CWD: `deno task` runs in the repository); the launcher allows them from there.
  const base = env("INIT_CWD") ?? Deno.cwd();
  const targetPathVariable = env("DBT_TARGET_PATH");
  if (targetPathVariable) values["target-path"] ??= targetPathVariable;
  for (const flag of ["state", "target-path"] as const) {
    const value = values[flag];
    if (value && !value.startsWith("/")) values[flag] = `${base}/${value}`;
  }
  let vars: Record<string, unknown> = {};
  if (values.vars !== undefined) {
    let v: unknown;
    try {
      // dbt reads --vars with PyYAML, as it reads dbt_project.yml: `{rate: 1.0}` is a float.
      v = yamlValue(values.vars, "--vars");
    } catch (error) {
      io.err(
        `--vars is not valid YAML: ${toError(error).message.split("\n")[0]}`,
      );
      return 2;
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      io.err(`--vars must be a YAML or JSON map, e.g. --vars '{"key": "value"}'`);
      return 2;
    }
    vars = v as Record<string, unknown>;
  }
  let operationArgs: Record<string, unknown> = {};
  if (values.args !== undefined) {
    let a: unknown;
    try {
      a = yamlValue(values.args, "--args");
    } catch (error) {
      io.err(
        `--args is not valid YAML: ${toError(error).message.split("\n")[0]}`,
      );
      return 2;
    }
    if (typeof a !== "object" || a === null || Array.isArray(a)) {
      io.err(`--args must be a YAML or JSON map of the macro's arguments, e.g. --args '{n: 3}'`);
      return 2;
    }
    operationArgs = a as Record<string, unknown>;
  }
  // The lines printed are dbt's text format; a structured format would be a promise not kept.
  const logFormat = values["log-format"];
  if (logFormat !== undefined && logFormat !== "text" && logFormat !== "default") {
    io.err(
      `--log-format ${logFormat}: only text (or default) is supported; this runner prints dbt's ` +
        `text lines and writes the JSON artifacts to target/\n${USAGE}`,
    );
    return 2;
  }
  const eventTime = eventTimeFlags(values["event-time-start"], values["event-time-end"], command);
  if (typeof eventTime === "string") {
    io.err(`${eventTime}\n${USAGE}`);
    return 2;
  }
  if (values.empty && command !== "run" && command !== "build") {
    io.err(
      `--empty applies to 'run' and 'build' (models built with no rows), not '${command}'\n${USAGE}`,
    );
    return 2;
  }
  const warnError = warnErrorFlags(values["warn-error"], values["warn-error-options"]);
  if (typeof warnError === "string") {
    io.err(`${warnError}\n${USAGE}`);
    return 2;
  }
  // Accepted and ignored would be a promise not kept (dbt's `compile --inline` included).
  for (const flag of ["limit", "inline"] as const) {
    if (values[flag] !== undefined && command !== "show") {
      io.err(`--${flag} applies to 'show', not '${command}'\n${USAGE}`);
      return 2;
    }
  }
  const limit = values.limit ?? "5";
  if (!/^-?\d+$/.test(limit)) {
    io.err(`--limit must be a whole number (-1 for every row), got '${limit}'\n${USAGE}`);
    return 2;
  }
  if (command === "show") {
    const output = values.output ?? "text";
    if (output !== "text" && output !== "json") {
      io.err(`show --output ${output}: give text or json\n${USAGE}`);
      return 2;
    }
    if (values.inline === undefined && (values.select ?? values.models ?? []).length === 0) {
      io.err(
        `'show' needs a node (-s/--select MODEL) or a query (--inline "select ...")\n${USAGE}`,
      );
      return 2;
    }
  }
  let threads: number | undefined;
  try {
    threads = values.threads === undefined
      ? undefined
      : wholeNumberOption("--threads", values.threads, 1);
  } catch (error) {
    io.err(toError(error).message);
    return 2;
  }
  const args = {
    which: command === "docs" ? "generate" : command === "source" ? "freshness" : command,
    invocation_command: `dbt ${argv.join(" ")}`,
    select: [...(values.select ?? []), ...(values.models ?? [])],
    exclude: values.exclude ?? [],
    selector: values.selector ?? null,
    full_refresh: values["full-refresh"] ?? false,
    vars,
    target: values.target ?? null,
    project_dir: projectDir,
    profiles_dir: values["profiles-dir"] ?? env("DBT_PROFILES_DIR") ?? null,
    threads: threads ?? null,
    fail_fast: values["fail-fast"] ?? false,
    empty: values.empty ?? false,
    state: values.state ?? null,
    warn_error: values["warn-error"] ?? null,
    // As given; `retry` applies them again (dbt's retry keeps them, unlike --warn-error).
    ...(values["warn-error-options"] === undefined
      ? {}
      : { warn_error_options: values["warn-error-options"] }),
    // As dbt 1.9 writes them (and `retry` reads them back).
    ...(eventTime
      ? {
        event_time_start: batchTime(eventTime.start),
        event_time_end: batchTime(eventTime.end),
      }
      : {}),
  };
  return {
    command,
    values,
    projectDir,
    vars,
    threads,
    invocationId: crypto.randomUUID(),
    args,
    ...(command === "run-operation"
      ? { operation: { macro: sub as string, args: operationArgs } }
      : {}),
    ...(eventTime ? { eventTime } : {}),
    warnError,
    limit: Number(limit),
  };
}

/**
 * Whether `--warn-error` / `--warn-error-options` promote test warnings
 * (dbt's LogTestResult event) to failures, or the message saying what is
 * wrong with the options. dbt 1.9's `error` / `warn` spell `include` / `exclude`.
 */
function warnErrorFlags(all: boolean | undefined, options: string | undefined): boolean | string {
  if (options === undefined) return all ?? false;
  let value: unknown;
  try {
    value = yamlValue(options, "--warn-error-options");
  } catch (error) {
    return `--warn-error-options is not valid YAML: ${toError(error).message.split("\n")[0]}`;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `--warn-error-options must be a map, e.g. '{"include": "all", "exclude": ["NoNodesForSelectionCriteria"]}'`;
  }
  const map = value as Record<string, unknown>;
  const names = (key: string, alias: string): string[] | "all" | string => {
    const given = map[key] ?? map[alias];
    if (given === undefined) return [];
    if (given === "all" || given === "*") return "all";
    if (Array.isArray(given) && given.every((v) => typeof v === "string")) return given;
    return `--warn-error-options ${key}: give "all" or a list of event names, not ${
      JSON.stringify(given)
    }`;
  };
  const include = names("include", "error");
  const exclude = names("exclude", "warn");
  for (const list of [include, exclude]) {
    if (typeof list === "string" && list !== "all") return list;
  }
  const unknown = Object.keys(map).filter((k) =>
    !["include", "exclude", "error", "warn", "silence"].includes(k)
  );
  if (unknown.length > 0) {
    return `--warn-error-options: unknown key '${unknown.join("', '")}' (known: include, exclude)`;
  }
  const has = (list: string[] | string, name: string) =>
    list === "all" || (Array.isArray(list) && list.includes(name));
  return (all === true || has(include, "LogTestResult")) && !has(exclude, "LogTestResult");
}

/**
 * `--event-time-start` / `--event-time-end` checked as dbt 1.9 checks them:
 * only for run and build, both or neither, dates or datetimes (UTC), start
 * before end. The window, undefined without them, or the message saying
 * what is wrong.
 */
function eventTimeFlags(
  start: string | undefined,
  end: string | undefined,
  command: string,
): { start: number; end: number } | undefined | string {
  if (start === undefined && end === undefined) return undefined;
  if (command !== "run" && command !== "build") {
    return `--event-time-start / --event-time-end apply to 'run' and 'build' (the batches of ` +
      `microbatch models), not '${command}'`;
  }
  if (start === undefined || end === undefined) {
    const [given, missing] = start === undefined
      ? ["--event-time-end", "--event-time-start"]
      : ["--event-time-start", "--event-time-end"];
    return `When specifying \`${given}\`, \`${missing}\` must also be present.`;
  }
  const times: number[] = [];
  for (const [flag, text] of [["--event-time-start", start], ["--event-time-end", end]] as const) {
    const ms = parseUtcTime(text);
    if (ms === undefined) {
      return `${flag} '${text}' is not a date or datetime: give e.g. 2024-01-01 or ` +
        "'2024-01-01 05:00:00' (UTC)";
    }
    times.push(ms);
  }
  const [from, to] = times as [number, number];
  if (from >= to) {
    return `Value for \`--event-time-start\` (${start}) must be less than ` +
      `\`--event-time-end\` (${end})`;
  }
  return { start: from, end: to };
}

/**
 * `retry`: runs again, with the last invocation's command, vars, target and
 * flags (from its run_results.json `args`), the nodes and tests that
 * errored, failed or were skipped; a microbatch model that partly
 * succeeded builds only its failed batches.
 */
async function retryCommand(inv: Invocation): Promise<number> {
  const first = await loadForCli(inv);
  const { readRetryPlan, retryIds } = await import("./retry.ts");
  // dbt's retry: --warn-error is the retry's own (and reruns what only warned), not the
  // previous run's; --warn-error-options and --empty are the previous run's.
  const plan = await readRetryPlan(targetDir(first), {
    warnings: inv.values["warn-error"] === true,
  });
  const prev = plan.args;
  const empty = prev.empty === true;
  const previousOptions = typeof prev.warn_error_options === "string"
    ? warnErrorFlags(undefined, prev.warn_error_options)
    : false;
  const warnError = inv.warnError || previousOptions === true;
  const vars = typeof prev.vars === "object" && prev.vars !== null && !Array.isArray(prev.vars)
    ? prev.vars as Record<string, unknown>
    : {};
  const target = inv.values.target ?? (typeof prev.target === "string" ? prev.target : undefined);
  const fullRefresh = prev.full_refresh === true;
  const strings = (value: unknown) =>
    Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  const start = typeof prev.event_time_start === "string"
    ? parseUtcTime(prev.event_time_start)
    : undefined;
  const end = typeof prev.event_time_end === "string"
    ? parseUtcTime(prev.event_time_end)
    : undefined;
  const again: Invocation = {
    ...inv,
    command: plan.command,
    vars,
    values: {
      ...inv.values,
      "full-refresh": fullRefresh,
      "fail-fast": prev.fail_fast === true || inv.values["fail-fast"] === true,
      empty,
      ...(target === undefined ? {} : { target }),
    },
    warnError,
    args: {
      ...prev,
      which: plan.command,
      invocation_command: inv.args.invocation_command,
      select: strings(prev.select),
      exclude: strings(prev.exclude),
    },
    ...(start !== undefined && end !== undefined ? { eventTime: { start, end } } : {}),
    retry: plan.batches,
  };
  const reload = Object.keys(vars).length > 0 || target !== inv.values.target || fullRefresh ||
    empty;
  const project = reload ? await loadForCli(again) : first;
  const ids = retryIds(project, plan);
  if (ids.size === 0) {
    inv.io.out("Nothing to retry: the last invocation had no errors, failures or skipped nodes");
    return 0;
  }
  // A failed `compile` compiles again what failed (dbt's retry runs the previous task).
  if (plan.command === "compile") return await compileCommand(project, again, ids);
  return await warehouseCommand(project, again, ids);
}

/** A macro name as run-operation takes it: `name` or `package.name`. */
const MACRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** `value` as a Jinja literal (the --args of run-operation passed to the macro). */
function jinjaLiteral(value: unknown): string {
  if (value === null || value === undefined) return "none";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(jinjaLiteral).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${jinjaLiteral(v)}`).join(", ")}}`;
  }
  return JSON.stringify(String(value));
}

/**
 * `run-operation MACRO --args YAML`: calls the macro in the root project's
 * context with the warehouse answering its queries (`run_query`,
 * `statement`: each runs once, as it is asked), as dbt does; what it logs is
 * printed. codegen, audit-helper and cleanup macros are run this way.
 */
async function runOperationCommand(project: DbtProject, inv: Invocation): Promise<number> {
  const { macro, args } = inv.operation as { macro: string; args: Record<string, unknown> };
  await using warehouse = await openTarget(project, inv.values["warehouse-url"], inv.env);
  const bad = Object.keys(args).find((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
  if (bad !== undefined) {
    inv.io.err(`--args: '${bad}' is not an argument name of a macro`);
    return 2;
  }
  const keywords = Object.entries(args).map(([k, v]) => `${k}=${jinjaLiteral(v)}`);
  const call = `{{ ${macro}(${keywords.join(", ")}) }}`;
  const { queryRunner } = await import("./execute/materialize.ts");
  await project.renderHook(call, { file: `run-operation ${macro}`, query: queryRunner(warehouse) });
  return 0;
}

async function depsCommand(inv: Invocation, fetcher: typeof fetch | undefined): Promise<number> {
  const hub = inv.env("DBT_PACKAGE_HUB_URL");
  const { installPackages } = await import("./packages.ts");
  const installed = await installPackages(inv.projectDir, {
    onInstalled: (line) => inv.io.out(line),
    upgrade: inv.values.upgrade ?? false,
    lockOnly: inv.values.lock ?? false,
    env: inv.env,
    ...(hub ? { hubUrl: hub } : {}),
    ...(fetcher ? { fetch: fetcher } : {}),
  });
  if (inv.values.lock) return 0;
  // dbt's DepsNoPackagesFound: with no package it writes no package-lock.yml either.
  if (installed.length === 0) inv.io.out("Warning: No packages were found in packages.yml");
  else inv.io.out(`Installed ${installed.length} package${installed.length === 1 ? "" : "s"}`);
  return 0;
}

/** The project's folder name, under which STATE_DIR keeps its target/. */
function projectFolder(projectDir: string): string {
  return projectDir.replace(/\/+$/, "").split("/").at(-1) || "project";
}

/** Loads the project; target/ goes where `--target-path`, DBT_TARGET_PATH or STATE_DIR say. */
function loadForCli(inv: Invocation): Promise<DbtProject> {
  const { values, env, projectDir } = inv;
  const stateDir = env("STATE_DIR");
  const targetPath = values["target-path"] ?? env("DBT_TARGET_PATH");
  const folder = projectFolder(projectDir);
  // dbt's --no-version-check / --version-check win over DBT_VERSION_CHECK.
  const versionCheck = values["no-version-check"]
    ? "false"
    : values["version-check"]
    ? "true"
    : undefined;
  // A warehouse URL wins over the profile: relations must name the database it connects to.
  const url = values["warehouse-url"] ?? env("WAREHOUSE_URL");
  const database = url ? warehouseDatabase(url, env) : undefined;
  return loadProject(projectDir, {
    target: values.target,
    database,
    vars: inv.vars,
    env: versionCheck === undefined
      ? env
      : (name: string) => name === "DBT_VERSION_CHECK" ? versionCheck : env(name),
    profilesDir: values["profiles-dir"],
    invocationId: inv.invocationId,
    clock: inv.clock,
    empty: values.empty ?? false,
    invocationArgs: inv.args,
    metadataEnv: inv.metadataEnv,
    flags: {
      EMPTY: values.empty ?? false,
      FULL_REFRESH: values["full-refresh"] ?? false,
      WHICH: inv.command,
      STORE_FAILURES: false,
    },
    // As dbt: what the project's macros log is printed, stamped like the progress lines.
    onLog: (message) => inv.io.out(`${clockTime(inv.clock.now())}  ${message}`),
    ...(targetPath ? { targetPath } : stateDir ? { targetDir: `${stateDir}/dbt/${folder}` } : {}),
  });
}

/** Whether the invocation names a selection, a selector or resource types, or the project a default selector. */
function selectsAnything(project: DbtProject, inv: Invocation): boolean {
  const { values, args } = inv;
  return args.select.length > 0 || args.exclude.length > 0 || values.selector !== undefined ||
    (values["resource-type"] ?? []).length > 0 ||
    (values["exclude-resource-type"] ?? []).length > 0 || project.defaultSelector !== undefined;
}

/** The unique ids the selection, the selector and the command's resource types pick. */
async function chooseIds(project: DbtProject, inv: Invocation): Promise<Set<string> | number> {
  const { values } = inv;
  const state = values.state ? await readState(project, values.state) : {};
  // As dbt: the default selector applies only when the command selects nothing itself.
  const selector = values.selector ??
    (inv.args.select.length === 0 && inv.args.exclude.length === 0
      ? project.defaultSelector
      : undefined);
  // ls lists sources and exposures; source freshness checks the sources selected.
  const listing = inv.command === "ls" || inv.command === "list" || inv.command === "source";
  const indirect = values["indirect-selection"] ?? inv.env("DBT_INDIRECT_SELECTION") ?? "eager";
  if (!(INDIRECT_SELECTION as readonly string[]).includes(indirect)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `--indirect-selection ${indirect}: not a mode (known: ${INDIRECT_SELECTION.join(", ")})`,
      { file: "--indirect-selection" },
    );
  }
  const chosen = selectNodes(
    project,
    inv.args.select,
    inv.args.exclude,
    state,
    selector,
    listing,
    indirect as IndirectSelection,
  );
  // As dbt: a criterion that picks nothing is a typo more often than not; say which.
  for (const criterion of inv.args.select) {
    if (selectNodes(project, [criterion], [], state, undefined, listing).size === 0) {
      inv.io.err(
        `warning: The selection criterion '${criterion}' does not match any enabled nodes`,
      );
    }
  }
  const given = values["resource-type"] ?? [];
  checkResourceTypes(given);
  const kinds = given.includes("all") || given.includes("default") ? undefined : given;
  // dbt 1.8's --exclude-resource-type: these kinds are left out, whatever else selects them.
  const excludedKinds = values["exclude-resource-type"] ?? [];
  checkResourceTypes(excludedKinds, "--exclude-resource-type");
  const ofCommand: Readonly<Record<string, readonly string[]>> = {
    run: ["model"],
    test: ["test", "unit_test"],
    seed: ["seed"],
    snapshot: ["snapshot"],
    show: ["model", "seed", "snapshot", "analysis"],
  };
  const keep = (id: string) => {
    const kind = id.split(".")[0] as string;
    // As dbt: analyses are compiled and listed, never built or run.
    if (kind === "analysis" && !["compile", "ls", "list", "parse", "show"].includes(inv.command)) {
      return false;
    }
    if (kinds && kinds.length > 0 && !kinds.includes(kind)) return false;
    if (excludedKinds.includes(kind)) return false;
    return ofCommand[inv.command]?.includes(kind) ?? true;
  };
  const ids = new Set([...chosen].filter(keep));
  // As dbt without MetricFlow: semantic models, metrics and saved queries are listed and in the
  // manifest, never run; a command that would run them says it skipped them.
  const semantic = [...ids].filter((id) => SEMANTIC_KINDS.has(id.split(".")[0] as string));
  if (semantic.length > 0 && !["ls", "list", "parse", "compile", "debug"].includes(inv.command)) {
    for (const id of semantic) ids.delete(id);
  }
  if (semantic.length > 0 && inv.command === "build") {
    const count = (kind: string, one: string, many: string) => {
      const n = semantic.filter((id) => id.startsWith(`${kind}.`)).length;
      return n === 0 ? [] : [`${n} ${n === 1 ? one : many}`];
    };
    inv.io.err(
      `note: skipped ${
        [
          ...count("semantic_model", "semantic model", "semantic models"),
          ...count("metric", "metric", "metrics"),
          ...count("saved_query", "saved query", "saved queries"),
        ].join(", ")
      }: they are in manifest.json, but this runner has no semantic layer (MetricFlow) to ` +
        "query them or build saved query exports",
    );
  }
  if (ids.size === 0 && inv.command !== "parse" && inv.command !== "debug") {
    inv.io.err(
      "warning: Nothing to do. Try checking your model configs and model specification args",
    );
  }
  return ids;
}

async function parseCommand(project: DbtProject, inv: Invocation): Promise<number> {
  await writeManifest(project, {
    invocationId: inv.invocationId,
    generatedAt: new Date(inv.clock.now()),
  });
  inv.io.out(
    `Parsed ${project.nodes.size} nodes, ${project.tests.length} tests, ` +
      `${project.unitTests.length} unit tests, ${project.sources.size} sources, ` +
      `${project.macros.size} macros; wrote ${targetDir(project)}/manifest.json`,
  );
  return 0;
}

async function compileCommand(
  project: DbtProject,
  inv: Invocation,
  ids: ReadonlySet<string>,
): Promise<number> {
  await using warehouse = await openTarget(project, inv.values["warehouse-url"], inv.env);
  const query = (await import("./execute/materialize.ts")).queryRunner(warehouse);
  const started = inv.clock.now();
  // As dbt: compile writes run_results.json too, one `success` (or `error`) per node compiled.
  const results: RunResultEntry[] = [];
  let failed = false;
  for (const id of ids) {
    const node = project.nodes.get(id);
    const test = node ? undefined : project.tests.find((t) => t.uniqueId === id);
    const analysis = node || test ? undefined : project.analyses.find((a) => a.uniqueId === id);
    if (!node && !test && !analysis) continue;
    const at = inv.clock.now();
    let sql: string | null = null;
    let message: string | null = null;
    try {
      sql = node
        ? await project.compileNode(node.name, { isIncremental: false, query })
        : analysis
        ? await analysis.compile(query)
        : (test as TestNode).renderSql
        ? await (test as TestNode).renderSql?.(query) ?? ""
        : (test as TestNode).compiledCode;
    } catch (error) {
      if (!(error instanceof DbtError)) throw error;
      failed = true;
      message = error.message;
      inv.io.err(`error: ${error.message}`);
    }
    results.push(runResultEntry({
      uniqueId: id,
      status: sql === null ? "error" : "success",
      startedAt: at,
      completedAt: inv.clock.now(),
      message,
      compiledCode: sql,
      relationName: node && node.config.materialized !== "ephemeral"
        ? node.relation.relationName
        : null,
    }));
    const written = node ?? analysis;
    if (sql === null || !written) continue;
    const path = `${targetDir(project)}/compiled/${written.packageName}/${
      inPackage(project, written.packageName, written.file)
    }`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, sql);
    if (ids.size === 1) inv.results.out(sql);
  }
  // As dbt: compile writes manifest.json (with the compiled SQL) beside run_results.json.
  await writeManifest(project, { invocationId: inv.invocationId });
  await writeJsonAtomic(
    targetDir(project),
    "run_results.json",
    buildRunResults(results, {
      invocationId: inv.invocationId,
      elapsedSeconds: (inv.clock.now() - started) / 1000,
      args: inv.args as Record<string, Json>,
      generatedAt: new Date(inv.clock.now()),
      env: project.metadataEnv,
    }),
  );
  inv.io.out(
    `Compiled ${results.filter((r) => r.status === "success").length} nodes to ${
      targetDir(project)
    }/compiled`,
  );
  return failed ? 1 : 0;
}

/**
 * `show`: previews each selected model, seed, snapshot or analysis, or the
 * `--inline` query (rendered in the root project with `ref()` / `source()`);
 * exit 1 when one does not compile or run.
 */
async function showCommand(
  project: DbtProject,
  inv: Invocation,
  ids: ReadonlySet<string> | undefined,
): Promise<number> {
  await using warehouse = await openTarget(project, inv.values["warehouse-url"], inv.env);
  const query = (await import("./execute/materialize.ts")).queryRunner(warehouse);
  const { nodeRequest, showPreview } = await import("./show.ts");
  const inline = inv.values.inline;
  const requests = inline !== undefined
    ? [{
      name: undefined,
      origin: "--inline",
      sql: () => project.renderHook(inline, { file: "--inline", query }),
    }]
    : [...ids ?? []].flatMap((id) => nodeRequest(project, id, query) ?? []);
  const stamp = `${clockTime(inv.clock.now())}  `;
  let failed = false;
  for (const request of requests) {
    let first = inv.values.output !== "json";
    const shown = await showPreview(request, {
      limit: inv.limit,
      output: inv.values.output === "json" ? "json" : "text",
      query,
      // As dbt: the heading carries the time, the table under it does not.
      out: (line) => {
        inv.results.out(first ? `${stamp}${line}` : line);
        first = false;
      },
      err: (line) => inv.io.err(line),
    });
    failed ||= !shown;
  }
  return failed ? 1 : 0;
}

async function debugCommand(project: DbtProject, inv: Invocation): Promise<number> {
  const { io, projectDir } = inv;
  const target = project.target;
  io.out(versionLine());
  io.out(`project: ${project.name} (${projectDir})`);
  io.out(`profiles.yml: ${target.profilesFile}`);
  io.out(
    `target: ${target.name} (type ${target.type}, schema ${target.schema}, ` +
      `threads ${target.threads})`,
  );
  await using warehouse = await openTarget(project, inv.values["warehouse-url"], inv.env);
  const ping = (await warehouse.ping()).toFixed(1);
  io.out(`warehouse: ${warehouse.location} (${warehouse.backend}), ping ${ping} ms`);
  io.out("All checks passed!");
  return 0;
}

/** docs generate, source freshness, and the commands that build (build/run/test/seed/snapshot). */
async function warehouseCommand(
  project: DbtProject,
  inv: Invocation,
  ids: ReadonlySet<string>,
): Promise<number> {
  const { io, clock, invocationId, values } = inv;
  await using warehouse = await openTarget(project, values["warehouse-url"], inv.env);
  if (inv.command === "docs") {
    const { buildCatalog } = await import("./docs_catalog.ts");
    const catalog = await buildCatalog(project, warehouse, { invocationId, now: clock.now() });
    await writeManifest(project, { invocationId });
    await writeJsonAtomic(targetDir(project), "catalog.json", catalog);
    io.out(`Catalog written to ${targetDir(project)}/catalog.json`);
    return 0;
  }
  if (inv.command === "source") {
    const { sourceFreshness } = await import("./docs_catalog.ts");
    const sources = await sourceFreshness(project, warehouse, {
      invocationId,
      now: clock.now(),
      only: ids,
    });
    await writeJsonAtomic(targetDir(project), "sources.json", sources.json);
    // dbt selects only sources with a freshness rule; none of them is its NothingToDo warning.
    if (sources.lines.length === 0) {
      inv.io.err(
        "warning: Nothing to do. Try checking your model configs and model specification args",
      );
    }
    for (const line of sources.lines) io.out(line);
    return sources.worst === "error" || sources.worst === "runtime error" ? 1 : 0;
  }
  const started = clock.now();
  const { runProject } = await import("./execute/run.ts");
  const result = await runProject(project, warehouse, {
    select: ids,
    threads: inv.threads,
    failFast: values["fail-fast"] ?? false,
    signal: inv.signal,
    fullRefresh: values["full-refresh"] ?? false,
    storeFailures: values["store-failures"] ?? false,
    warnError: inv.warnError,
    clock,
    invocationId,
    args: inv.args,
    microbatch: {
      ...(inv.eventTime
        ? { eventTimeStart: inv.eventTime.start, eventTimeEnd: inv.eventTime.end }
        : {}),
      ...(inv.retry ? { retry: inv.retry } : {}),
    },
    // dbt runs on-run-start/end for test too (dbt_artifacts uploads test results from it).
    hooks: true,
    onProgress: (event) => io.out(progressLine(event, clock.now())),
  });
  await writeCompiledFiles(project, result.results);
  await writeRunFiles(project, result.executed);
  const count = (...statuses: string[]) =>
    result.results.filter((r) => statuses.includes(r.status)).length;
  const seconds = ((clock.now() - started) / 1000).toFixed(2);
  io.out("");
  io.out(`Finished running ${result.results.length} nodes in ${seconds}s.`);
  for (
    const r of result.results.filter((r) => ["error", "fail", "partial success"].includes(r.status))
  ) {
    inv.results.out(`  ${r.status.toUpperCase()} ${r.unique_id}: ${r.message ?? ""}`);
  }
  const partial = count("partial success");
  io.out(
    `Done. PASS=${count("success", "pass")} WARN=${count("warn")} ` +
      `ERROR=${count("error", "fail")} SKIP=${count("skipped")}` +
      (partial > 0 ? ` PARTIAL SUCCESS=${partial}` : "") + ` TOTAL=${result.results.length}`,
  );
  if (inv.signal?.aborted) {
    io.err(
      `Canceled: ${count("skipped")} node(s) not run (what had started finished, so the ` +
        "warehouse is consistent); run the same command again, or `deno task dbt retry`, " +
        "to build the rest",
    );
  }
  return result.success ? 0 : 1;
}

/**
 * The compiled SQL of what ran, under target/compiled/<package>/ as dbt writes it for
 * run/build/test/snapshot: a model or snapshot at its file's path, a singular test at its
 * file's, a generic test at `<its YAML file>/<its name>.sql`.
 */
async function writeCompiledFiles(
  project: DbtProject,
  results: readonly { unique_id: string; compiled_code: string | null }[],
): Promise<void> {
  const tests = new Map(project.tests.map((t) => [t.uniqueId, t]));
  for (const r of results) {
    if (r.compiled_code === null) continue;
    const node = project.nodes.get(r.unique_id);
    const test = node ? undefined : tests.get(r.unique_id);
    const file = node && node.resourceType !== "seed"
      ? `${node.packageName}/${inPackage(project, node.packageName, node.file)}`
      : test
      ? `${test.packageName}/${
        inPackage(project, test.packageName, test.file) +
        (test.kind === "singular" ? "" : `/${test.alias}.sql`)
      }`
      : undefined;
    if (file === undefined) continue;
    const path = `${targetDir(project)}/compiled/${file}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, r.compiled_code);
  }
}

/**
 * The SQL each model and snapshot executed (`create table … as (…)`, an
 * incremental run's delete and insert), under target/run/<package>/ at its
 * file's path, as dbt writes it beside target/compiled/.
 */
async function writeRunFiles(
  project: DbtProject,
  executed: ReadonlyMap<string, string>,
): Promise<void> {
  for (const [id, sql] of executed) {
    const node = project.nodes.get(id);
    if (node === undefined) continue;
    const path = `${targetDir(project)}/run/${node.packageName}/${
      inPackage(project, node.packageName, node.file)
    }`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, sql);
  }
}

/** Variables of the environment this command reads, checked by the platform's config schema. */
const ENV_VARIABLES = [
  "DBT_PROJECT_DIR",
  "DBT_PROFILES_DIR",
  "DBT_TARGET_PATH",
  "DBT_PACKAGE_HUB_URL",
  "WAREHOUSE_URL",
  "STATE_DIR",
] as const;

/**
 * A bad value of a variable the command reads, said with the variable's name
 * (the same rules as the platform's configuration), or undefined.
 */
function checkEnvironment(env: (name: string) => string | undefined): string | undefined {
  const base = env("INIT_CWD") ?? Deno.cwd();
  const values: Record<string, string | undefined> = {};
  for (const name of ENV_VARIABLES) {
    const value = env(name);
    // Folders are given relative to where the command was typed.
    values[name] = value && (name === "DBT_PROJECT_DIR" || name === "DBT_PROFILES_DIR") &&
        !value.startsWith("/")
      ? `${base}/${value}`
      : value;
  }
  try {
    loadConfig({ env: values, dotenvPath: null });
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return `error: ${error.message}`;
    throw error;
  }
}

/**
 * The project folder: the flag or DBT_PROJECT_DIR (relative to where the
 * command was typed: INIT_CWD under `deno task`), else that folder when it
 * holds a dbt_project.yml, else the platform's own `dbt/`.
 */
async function findProjectDir(
  given: string | undefined,
  env: (name: string) => string | undefined,
): Promise<string> {
  const base = env("INIT_CWD") ?? Deno.cwd();
  if (given !== undefined) return given.startsWith("/") ? given : `${base}/${given}`;
  for (const dir of [base, Deno.cwd()]) {
    try {
      await Deno.stat(`${dir}/dbt_project.yml`);
      return dir;
    } catch {
      // not a project folder: look further
    }
  }
  return "dbt";
}

/**
 * Why an artifact of `schema` (its `metadata.dbt_schema_version`) is too new
 * for this runner, or `undefined` when it is one it writes or an older one.
 */
function newerSchema(schema: string): string | undefined {
  const found = /\/dbt\/(manifest|run-results|sources)\/v(\d+)\.json$/.exec(schema);
  if (!found) return undefined;
  const ours =
    { manifest: MANIFEST_SCHEMA, "run-results": RUN_RESULTS_SCHEMA, sources: SOURCES_SCHEMA }[
      found[1] as "manifest" | "run-results" | "sources"
    ];
  const known = Number(/\/v(\d+)\.json$/.exec(ours)?.[1]);
  return Number(found[2]) > known
    ? `written by a newer dbt (schema ${found[1]} v${found[2]}; this runner, dbt ${DBT_VERSION}, ` +
      `reads up to v${known}); make the state with the same dbt version`
    : undefined;
}

async function readState(project: DbtProject, dir: string): Promise<SelectionState> {
  // A damaged artifact (a run killed while writing it by another tool, a hand edit) is the
  // user's to fix, named with its path: exit 2, not a SyntaxError's stack.
  const read = async (name: string, list: "nodes" | "results", folder = dir) => {
    const invalid = (why: string) =>
      new DbtError(
        DbtErrorCode.invalidState,
        `${why}; point --state at the target/ folder of a finished dbt run`,
        { file: `${folder}/${name}` },
      );
    let value: unknown;
    try {
      value = JSON.parse(await Deno.readTextFile(`${folder}/${name}`));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      if (error instanceof SyntaxError) throw invalid(`not valid JSON (${error.message})`);
      throw error;
    }
    const inner = (value as Record<string, unknown> | null)?.[list];
    const shaped = typeof value === "object" && value !== null && !Array.isArray(value) &&
      (inner === undefined ||
        (list === "results"
          ? Array.isArray(inner)
          : typeof inner === "object" && inner !== null && !Array.isArray(inner)));
    if (!shaped) throw invalid(`not a dbt ${name.replace(".json", "")} artifact`);
    // dbt-core refuses artifacts of a newer schema (IncompatibleSchemaError): read as this
    // version's, a renamed or moved field would make every node look modified, or none.
    const schema = (value as { metadata?: { dbt_schema_version?: unknown } }).metadata
      ?.dbt_schema_version;
    const newer = typeof schema === "string" ? newerSchema(schema) : undefined;
    if (newer) throw invalid(newer);
    return value;
  };
  const manifest = await read("manifest.json", "nodes") as StateManifest | undefined;
  const results = await read("run_results.json", "results") as {
    results?: { unique_id: string; status: string }[];
  } | undefined;
  type Freshness = { results?: { unique_id: string; max_loaded_at?: string }[] } | undefined;
  const before = await read("sources.json", "results") as Freshness;
  // This project's own sources.json (its last `source freshness`), as dbt's sources_current.
  const now = await read("sources.json", "results", targetDir(project)) as Freshness;
  return {
    ...(manifest?.nodes
      ? {
        // The project's own manifest is made only when a `state:` criterion asks.
        check: lazyStateCheck(manifest, () => buildManifest(project, { invocationId: "state" })),
        checksums: new Map([
          ...Object.entries(manifest.nodes).map(([id, n]) =>
            [
              id,
              n.resource_type === "test" ? n.raw_code ?? "" : n.checksum?.checksum ?? "",
            ] as const
          ),
          // Sources carry no checksum here: one the earlier run knew is not modified (only new).
          ...Object.keys(manifest.sources ?? {}).map((id) => [id, ""] as const),
        ]),
      }
      : {}),
    ...(results?.results
      ? { statuses: new Map(results.results.map((r) => [r.unique_id, r.status])) }
      : {}),
    ...(before?.results && now?.results ? { fresher: fresherSources(before, now) } : {}),
  };
}

/** dbt's source_status:fresher: loaded later now than before (or new), no runtime error in either. */
function fresherSources(
  before: { results?: { unique_id: string; max_loaded_at?: string }[] },
  now: { results?: { unique_id: string; max_loaded_at?: string }[] },
): Set<string> {
  const loaded = (list: typeof before) =>
    new Map((list.results ?? []).map((r) => [r.unique_id, r.max_loaded_at]));
  const [old, current] = [loaded(before), loaded(now)];
  const failed = (map: Map<string, string | undefined>) =>
    new Set([...map].filter(([, at]) => at === undefined).map(([id]) => id));
  const broken = new Set([...failed(old), ...failed(current)]);
  return new Set(
    [...current].filter(([id, at]) => {
      if (at === undefined || broken.has(id)) return false;
      const was = old.get(id);
      return was === undefined ? !old.has(id) : Date.parse(at) > Date.parse(was);
    }).map(([id]) => id),
  );
}

function lazyStateCheck(
  previous: StateManifest,
  current: () => StateManifest,
): (id: string, value: string) => boolean {
  let check: StateCheck | undefined;
  return (id, value) => (check ??= stateCheck(previous, current()))(id, value);
}

/** The semantic layer's resource types: selected and listed, never run. */
const SEMANTIC_KINDS = new Set(["semantic_model", "metric", "saved_query"]);

/** The keys dbt's `ls --output json` prints without `--output-keys` (its ListTask's). */
const LIST_JSON_KEYS = [
  "alias",
  "name",
  "package_name",
  "depends_on",
  "tags",
  "config",
  "resource_type",
  "source_name",
  "original_file_path",
  "unique_id",
];

/**
 * `ls --output json`: one line per selected node, its manifest entry with only the default keys
 * (or `--output-keys`), as dbt prints it; tools that build their graph from it (Airflow's
 * Cosmos) read `depends_on`, `original_file_path`, `tags` and `config`.
 */
function listJson(
  project: DbtProject,
  ids: ReadonlySet<string>,
  outputKeys: readonly string[] | undefined,
): string[] {
  const manifest = buildManifest(project, { invocationId: "ls" }) as Record<string, Json>;
  const sections = [
    "nodes",
    "sources",
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "unit_tests",
  ].map((name) => (manifest[name] ?? {}) as Record<string, Record<string, Json>>);
  const keys = new Set(
    outputKeys && outputKeys.length > 0 ? outputKeys.flatMap((k) => k.split(",")) : LIST_JSON_KEYS,
  );
  return [...ids].map((id) => {
    const entry = sections.find((section) => Object.hasOwn(section, id))?.[id];
    if (!entry) return JSON.stringify({ unique_id: id, resource_type: id.split(".")[0] });
    return JSON.stringify(Object.fromEntries(Object.entries(entry).filter(([k]) => keys.has(k))));
  });
}

function describeId(project: DbtProject, id: string, output: string): string {
  const source = project.sources.get(id);
  const exposure = source ? undefined : project.exposures.find((e) => e.uniqueId === id);
  if (source || exposure) {
    const name = source ? source.name : (exposure?.name ?? id);
    if (output === "name") return name;
    if (output === "path") return source?.file ?? exposure?.file ?? id;
    if (output === "json") {
      return JSON.stringify({ unique_id: id, name, resource_type: id.split(".")[0] });
    }
    // As dbt ls: `source:<package>.<source>.<table>`, `exposure:<package>.<name>`.
    return source
      ? `source:${source.packageName}.${source.sourceName}.${source.name}`
      : `exposure:${id.split(".").slice(1).join(".")}`;
  }
  const semantic = project.semantic.find((r) => r.uniqueId === id);
  if (semantic) {
    if (output === "name") return semantic.name;
    if (output === "path") return semantic.file;
    if (output === "json") {
      return JSON.stringify({ unique_id: id, name: semantic.name, resource_type: semantic.kind });
    }
    // As dbt ls: `semantic_model:<package>.<name>` (and metric:, saved_query:).
    return `${semantic.kind}:${semantic.packageName}.${semantic.name}`;
  }
  const node = project.nodes.get(id) ?? project.analyses.find((a) => a.uniqueId === id);
  const test = project.tests.find((t) => t.uniqueId === id);
  const name = node?.name ?? test?.name ?? id.split(".").at(-1) ?? id;
  if (output === "name") return name;
  if (output === "path") return node?.file ?? test?.file ?? id;
  if (output === "json") {
    return JSON.stringify({ unique_id: id, name, resource_type: id.split(".")[0] });
  }
  // As dbt ls: the fqn, whose first part is the node's package (not the root project's).
  return (node ? node.fqn : [test?.packageName ?? project.name, name]).join(".");
}

/** Opens the warehouse the CLI builds in (see the module doc). */
export async function openTarget(
  project: DbtProject,
  flag: string | undefined,
  env: (name: string) => string | undefined,
): Promise<Warehouse> {
  const { openWarehouse } = await import("../warehouse/open.ts");
  const explicit = flag ?? env("WAREHOUSE_URL");
  if (explicit) return await openWarehouse(explicit);
  const fields = project.target.fields;
  if (project.target.type === "duckdb") {
    const { attachStatements, duckdbTargetUrl } = await import("./adapters/duckdb.ts");
    // Paths in a duckdb profile are relative to the project (where dbt-duckdb users run dbt).
    const warehouse = await openWarehouse(duckdbTargetUrl(fields, project.dir));
    try {
      for (const statement of attachStatements(fields.attach, project.dir)) {
        await warehouse.execute(statement);
      }
    } catch (error) {
      await warehouse.close();
      throw error;
    }
    return warehouse;
  }
  const host = typeof fields.host === "string" ? fields.host.trim() : "";
  if (project.target.type === "postgres" && host !== "") {
    const user = encodeURIComponent(String(fields.user ?? "postgres"));
    const password = project.target.secret ? `:${encodeURIComponent(project.target.secret)}` : "";
    const port = fields.port === undefined ? "" : `:${String(fields.port)}`;
    return await openWarehouse(
      `postgres://${user}${password}@${host}${port}/${encodeURIComponent(project.target.database)}`,
    );
  }
  return await openWarehouse(`pglite:${env("STATE_DIR") ?? ".state"}/warehouse`);
}

function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/**
 * dbt's format_fancy_output_line: `i of n <msg> ` padded with dots to 80
 * columns (cut to 77 and `...` when longer), then `[<status>]`.
 */
function fancyLine(index: number, total: number, msg: string, status: string): string {
  const justified = `${index} of ${total} ${msg} `.padEnd(80, ".");
  return `${justified.length > 77 ? `${justified.slice(0, 77)}...` : justified} [${status}]`;
}

function progressLine(event: ProgressEvent, now: number): string {
  if (event.kind === "hook") {
    const msg = `${event.phase === "start" ? "START" : "OK"} hook: ${event.name}`;
    const status = event.phase === "start"
      ? "RUN"
      : `${event.status === "success" ? "OK" : (event.status ?? "error").toUpperCase()} in ${
        (event.seconds ?? 0).toFixed(2)
      }s`;
    return `${clockTime(now)}  ${fancyLine(event.index, event.total, msg, status)}`;
  }
  const head = `${clockTime(now)}  ${event.index} of ${event.total}`;
  const label = event.kind === "test" || event.kind === "unit_test"
    ? `${event.kind === "unit_test" ? "unit test" : "test"} ${event.name}`
    : `${event.kind === "model" ? "sql " : ""}${
      event.what.replace(/^(\w+) /, "$1 " + event.kind + " ")
    }`;
  if (event.phase === "start") {
    return `${head} START ${label} ${".".repeat(Math.max(3, 60 - label.length))} [RUN]`;
  }
  const status = event.status ?? "error";
  const word = status === "success"
    ? "OK created"
    : status === "pass"
    ? "PASS"
    : status === "warn"
    ? "WARN"
    : status === "skipped"
    ? "SKIP"
    : status === "fail"
    ? "FAIL"
    : status === "partial success"
    ? "PARTIAL SUCCESS creating"
    : "ERROR creating";
  const detail = status === "success" || status === "pass"
    ? (event.message ?? "OK")
    : status.toUpperCase();
  return `${head} ${word} ${label} ${".".repeat(Math.max(3, 55 - label.length))} [${detail} in ${
    (event.seconds ?? 0).toFixed(2)
  }s]`;
}
