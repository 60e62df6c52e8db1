/**
 * The launcher behind `deno task materialize|sensor|worker|ui|dev|doctor|dbt|cli|compile`:
 * it reads the configuration, computes the narrowest Deno permissions the
 * command needs (resources/permissions.ts) and runs `main.ts` with exactly
 * those, in place of `-A`, and with the V8 flags of core/cli/v8_flags.ts. It loads only our configuration code and its two
 * small pure-JS dependencies (zod, croner; not the AWS SDK or any driver),
 * writes nothing and opens no connection; its own permissions (read, env,
 * run) are those needed to do that and start Deno.
 *
 *     deno run [--v8-flags=...] --allow-read --allow-env --allow-run launch.ts [--print] [--cached-only] COMMAND [ARGS...]
 *
 * (deno.json's tasks give it the V8 flags of its command: core/cli/v8_flags.ts says why.)
 *
 * - `--print`: print the command line instead of running it (what the
 *   permissions of a command would be under the current configuration).
 * - `--cached-only`: passed on to `deno run` (the container image).
 * - `compile [FLAGS...]`: `deno compile` with the permissions of every
 *   command, then FLAGS (`--include`, `--output`) and `main.ts`.
 *
 * A configuration that does not load runs `main.ts` with read access to the
 * project only, so the error is reported as every command reports it.
 * SIGINT, SIGTERM and SIGHUP are passed on to the command (which takes a
 * terminal's Ctrl-C, delivered to it directly and again through here, as one
 * request); the exit code is the command's (128 + N when signal N ended it).
 * Killed with -9, the launcher leaves its command an orphan: the command
 * notices (its parent pid changes; `PLATFORM_LAUNCHER_PID` names the
 * launcher) and stops as on SIGTERM, releasing its runs, claims and locks.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LAUNCHER_PID_VARIABLE } from "./core/cli/stop.ts";
import { commandV8Flags, v8FlagsOption } from "./core/cli/v8_flags.ts";
import { ConfigError, toError } from "./core/errors.ts";
import { loadConfig, readDotenv } from "./resources/config.ts";
import { permissionFlags, taskPermissions } from "./resources/permissions.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const PROJECT = dirname(MAIN);

/** Options of {@linkcode launchCommand}. */
export interface LaunchOptions {
  /** The environment. @default {Deno.env} */
  readonly env?: { get(name: string): string | undefined; toObject(): Record<string, string> };
  /** The `.env` file under the environment (`null`: none). @default {".env"} */
  readonly dotenvPath?: string | null;
  /** Where relative paths of the configuration start. @default {Deno.cwd()} */
  readonly cwd?: string;
  /** The Deno executable. @default {Deno.execPath()} */
  readonly execPath?: string;
}

/** The launcher's own options, before the command. */
export interface LaunchArgs {
  /** `--print`: print the command line instead of running it. */
  readonly print: boolean;
  /** Options passed on to `deno run` / `deno compile` (`--cached-only`). */
  readonly denoOptions: readonly string[];
  /** The command and its arguments. */
  readonly rest: readonly string[];
}

/** Splits the launcher's own leading options from the command. */
export function parseLaunchArgs(args: readonly string[]): LaunchArgs {
  const rest = [...args];
  const denoOptions: string[] = [];
  let print = false;
  while (rest[0] === "--print" || rest[0] === "--cached-only") {
    const option = rest.shift()!;
    if (option === "--print") print = true;
    else denoOptions.push(option);
  }
  return { print, denoOptions, rest };
}

/**
 * The `deno` arguments that run `args` (the launcher's own, without `deno
 * run launch.ts`) with the permissions its command needs.
 */
export function launchCommand(args: readonly string[], options: LaunchOptions = {}): string[] {
  const env = options.env ?? Deno.env;
  const cwd = options.cwd ?? Deno.cwd();
  const execPath = options.execPath ?? Deno.execPath();
  const { denoOptions, rest } = parseLaunchArgs(args);
  const command = rest[0] ?? "";
  const dotenvPath = options.dotenvPath === undefined ? ".env" : options.dotenvPath;
  let flags: string[];
  try {
    const dotenv = dotenvPath === null ? {} : readDotenv(dotenvPath);
    const config = loadConfig({ env: env.toObject(), dotenvPath });
    const merged = {
      get: (name: string) => nonEmpty(env.get(name)) ?? nonEmpty(dotenv[name]),
    };
    flags = permissionFlags(
      taskPermissions(command, rest.slice(1), config, {
        projectDir: PROJECT,
        env: merged,
        execPath,
        cwd,
        launcherPid: Deno.pid,
      }),
    );
  } catch (error) {
    // The launcher's own variables are reported here; main.ts reports every other
    // configuration error itself, as every command does.
    if (error instanceof ConfigError && /^PLATFORM_/.test(error.input ?? "")) throw error;
    // main.ts reads the .env again to report it: outside the project (launch.ts run from
    // another folder), without this it said 'Requires read access to ".env"' instead.
    const reads = dotenvPath === null ? [PROJECT] : [PROJECT, resolve(cwd, dotenvPath)];
    flags = ["--allow-env", `--allow-read=${reads.join(",")}`];
  }
  if (command === "compile") {
    return ["compile", ...denoOptions, v8FlagsOption(), ...flags, ...rest.slice(1), MAIN];
  }
  return [
    "run",
    ...denoOptions,
    LAZY_DYNAMIC_IMPORTS,
    v8FlagsOption(commandV8Flags(rest)),
    ...flags,
    MAIN,
    ...rest,
  ];
}

/**
 * Deno's option that loads a literal `await import("./x.ts")` when it runs,
 * not when the module holding it loads. Without it Deno reads, parses and
 * resolves (npm packages included) every module such an import could reach
 * before the command starts: main.ts's lazy commands reach graph.ts, the UI,
 * the AWS SDK, DuckDB and PGlite, which `dbt parse` never runs (measured,
 * load ~12: `main.ts --help` 96 -> 30 ms of CPU, `dbt parse` of a project of
 * no model 287 -> 215 ms). Not for `deno compile`, whose binary must hold
 * those modules.
 */
export const LAZY_DYNAMIC_IMPORTS = "--unstable-lazy-dynamic-imports";

/**
 * What to add when `deno compile` failed: Deno's own error is a bare DNS or
 * HTTP failure fetching the runtime the binary is built on, with a stack
 * backtrace, and does not say that it can be given offline.
 */
export function compileFailureHint(
  args: readonly string[],
  code: number,
  denortBin: string | undefined = Deno.env.get("DENORT_BIN"),
  output = "",
): string | undefined {
  if (code === 0 || parseLaunchArgs(args).rest[0] !== "compile") return undefined;
  if (isCompileUsageError(output)) {
    return "deno task compile: the flags after 'compile' go to deno compile (--include, " +
      "--output, --target...); 'deno compile --help' lists them.";
  }
  const version = Deno.version.deno;
  if (denortBin !== undefined && denortBin !== "") {
    // Given already: telling to set it (the hint below) sent the user round in a circle.
    let found: boolean;
    try {
      found = Deno.statSync(denortBin).isFile;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      found = false;
    }
    return `deno task compile failed (exit ${code}). DENORT_BIN='${denortBin}' ` +
      (found ? "is used as the runtime: it must be" : "names no file: point it at") +
      ` the denort executable of Deno ${version} (unzipped from denort-<target>.zip of that ` +
      "release), or unset DENORT_BIN to download it.";
  }
  // Said plainly when Deno's error names the download (a DNS failure offline).
  const why = /dl\.deno\.land|denort-/.test(output)
    ? "It could not download denort"
    : "If the error above is about downloading denort";
  return `deno task compile failed (exit ${code}). ${why}: the binary is built on Deno's ` +
    `runtime (denort ${version}), downloaded once from ` +
    `dl.deno.land. Offline, fetch denort-<target>.zip of Deno ${version} on a connected machine, ` +
    "unzip it here and set DENORT_BIN=/path/to/denort, then run it again.";
}

/**
 * `deno task compile --help`: what the task builds and needs. The task's own
 * `--include`/`--output` flags come before the user's, so without this the
 * `--help` reached `deno compile`, whose help documents a different command
 * line (a SOURCE_FILE the task already gives) and says nothing of DENORT_BIN.
 */
export function compileHelp(version: string = Deno.version.deno): string {
  return `Usage: deno task compile [DENO COMPILE FLAGS...]

Builds one executable, dist/platform, holding main.ts, graph.ts, the dbt
project, config/, sample_data/ and the UI's files, with the Deno permissions
computed from the configuration now: set STATE_DIR, LAKE_URL and the server
URLs of the deployment when compiling. Run it with any command of
'deno task cli --help': dist/platform materialize, dist/platform ui, ...
The binary reads and writes spatial files with its embedded GDAL (gdal3.js):
GDAL_ENGINE=auto picks it, GDAL_ENGINE=native is refused (exit 2); the native
engine (the machine's gdal-bin) needs 'deno task ...'/'deno run' or the Docker
image.

The binary is built on Deno's runtime (denort ${version}), downloaded once from
dl.deno.land. Offline, fetch denort-<target>.zip of Deno ${version} on a
connected machine, unzip it and set DENORT_BIN=/path/to/denort.

Flags after 'compile' go to deno compile (--output PATH, --target TRIPLE, ...;
'deno compile --help' lists them).

Exit status: 0 built, 1 failed (the runtime could not be had, say), 2 a flag
deno compile refuses.
`;
}

/** Whether the arguments after `compile` ask for its help (`-h`, `--help`). */
export function wantsCompileHelp(args: readonly string[]): boolean {
  const { rest } = parseLaunchArgs(args);
  return rest[0] === "compile" && rest.slice(1).some((a) => a === "--help" || a === "-h");
}

/**
 * Whether `deno compile` refused its command line (its argument parser's
 * errors: an unknown flag, a missing or bad value): a usage error, exit 2.
 */
export function isCompileUsageError(output: string): boolean {
  return /^error: (unexpected argument|invalid value|a value is required|the argument '[^']*' cannot be used)/m
    .test(output);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

if (import.meta.main) {
  if (wantsCompileHelp(Deno.args)) {
    console.log(compileHelp());
    Deno.exit(0);
  }
  let argv: string[];
  try {
    argv = launchCommand(Deno.args);
  } catch (error) {
    const { code, message } = error instanceof ConfigError
      ? error
      : { code: "config.invalid", message: toError(error).message };
    console.error(`error [${code}]: ${message}`);
    Deno.exit(2);
  }
  if (parseLaunchArgs(Deno.args).print) {
    console.log(
      ["deno", ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(" "),
    );
    Deno.exit(0);
  }
  // The child watches for this pid to stop being its parent (core/cli/stop.ts): killed
  // with -9, the launcher cannot stop it, and an orphan would hold leases, locks and ports.
  // compile's errors are read for the hint (passed on as they come); without RUST_BACKTRACE=0
  // a shell with RUST_BACKTRACE=1 got Deno's stack backtrace after a failed download.
  const compiling = parseLaunchArgs(Deno.args).rest[0] === "compile";
  const child = new Deno.Command(Deno.execPath(), {
    args: argv,
    env: {
      [LAUNCHER_PID_VARIABLE]: String(Deno.pid),
      ...(compiling ? { RUST_BACKTRACE: "0", RUST_LIB_BACKTRACE: "0" } : {}),
    },
    stderr: compiling ? "piped" : "inherit",
  }).spawn();
  let errors = "";
  const passingOn = compiling
    ? (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        for (let written = 0; written < chunk.length;) {
          written += await Deno.stderr.write(chunk.subarray(written));
        }
        // The last part is enough to tell a usage error from a failed download.
        errors = (errors + decoder.decode(chunk, { stream: true })).slice(-65536);
      }
    })()
    : undefined;
  const forwarded: Deno.Signal[] = Deno.build.os === "windows"
    ? []
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const signal of forwarded) {
    // A terminal's Ctrl-C reaches the command too (same process group) and `deno task`
    // passes it on again: the command takes one request arriving several times as one.
    Deno.addSignalListener(signal, () => {
      try {
        child.kill(signal);
      } catch {
        // The command has ended already.
      }
    });
  }
  const status = await child.status;
  await passingOn;
  const hint = compileFailureHint(Deno.args, status.code, undefined, errors);
  if (hint) console.error(hint);
  if (!status.signal && status.code !== 0 && compiling && isCompileUsageError(errors)) {
    Deno.exit(2);
  }
  Deno.exit(status.signal ? 128 + (SIGNAL_NUMBERS[status.signal] ?? 0) : status.code);
}
