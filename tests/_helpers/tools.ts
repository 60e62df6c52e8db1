/**
 * Probes for the native tools and servers some tests need, and the one way
 * a test is skipped when one is absent.
 *
 * A test that needs gdal-bin, PostgreSQL, PostGIS, Chromium, OpenStack Swift
 * or MongoDB computes its `ignore:` from {@linkcode needs}; it is never
 * skipped by catching its own failure. On a machine where the tool is
 * missing, `needs` prints one line naming what is missing and the command
 * that installs it, and records the skip for the summary that
 * `deno task test` prints at the end (see `tests/_helpers/run_tests.ts`).
 *
 * With `CI=true` a missing tool is a failure, not a skip: `needs` returns
 * `false` (the test runs, and fails on the missing tool) and registers one
 * failing test per file and tool, named `CI requires <tool>`, whose message
 * says how to install it. Inside a running test (a `t.step`'s `ignore:`) it
 * throws that message instead, failing the enclosing test. MongoDB is the
 * one exception: no MongoDB server can run on these machines, so its tests
 * keep skipping without MONGODB_URI, also in CI.
 *
 * Probes run the tool (`--version`), so a binary that is present but cannot
 * be executed (hidden by a bind mount, wrong architecture) counts as
 * missing. Each probe runs at most once per test module.
 *
 * @example
 * ```ts ignore
 * import { needs } from "../../_helpers/tools.ts";
 *
 * Deno.test("gdalinfo reads the COG", { ignore: await needs("gdal") }, async () => {
 *   // ... calls gdalinfo
 * });
 * ```
 *
 * @module
 */

import { findPostgresBinDir } from "./postgres.ts";

/** The tools and servers tests may need. */
export type Tool =
  | "gdal"
  | "postgres"
  | "postgres-binaries"
  | "postgis"
  | "chromium"
  | "swift"
  | "mongodb";

/** What a probe found. */
export interface ToolProbe {
  /** Which tool was probed. */
  readonly tool: Tool;
  /** The name a person knows it by (usually the Debian package), e.g. `gdal-bin`. */
  readonly label: string;
  /** Whether every part of it is there and runs. */
  readonly present: boolean;
  /** What is missing, e.g. `ogr2ogr, gdalinfo not found`; empty when present. */
  readonly missing: string;
  /** The command (or step) that installs it. */
  readonly install: string;
  /** Whether `CI=true` turns its absence into a failure. @default true */
  readonly requiredInCi: boolean;
}

/** Environment variable naming a folder where skipped tests are recorded (set by the runner). */
export const SKIP_LOG_ENV = "TEST_SKIP_LOG";
/** File name, inside {@linkcode SKIP_LOG_ENV}'s folder, of the JSON lines skip records. */
export const SKIP_LOG_FILE = "skips.jsonl";

/** One skip, as recorded for the runner's summary. */
export interface SkipRecord {
  /** `file:` URL of the module whose `ignore:` called {@linkcode needs}. */
  readonly file: string;
  /** Line of that call, to match the record to the ignored test. */
  readonly line: number;
  readonly label: string;
  readonly missing: string;
  readonly install: string;
}

const APT = "sudo apt-get install -y";
const INSTALL: Record<Tool, { label: string; install: string }> = {
  gdal: { label: "gdal-bin", install: `${APT} gdal-bin` },
  postgres: {
    label: "PostgreSQL",
    install: `${APT} postgresql (or set DATABASE_URL to a server whose role has CREATEDB)`,
  },
  "postgres-binaries": {
    label: "PostgreSQL binaries",
    install: `${APT} postgresql`,
  },
  postgis: { label: "PostGIS", install: `${APT} postgresql postgresql-15-postgis-3` },
  chromium: { label: "Chromium", install: `${APT} chromium (or set CHROMIUM_PATH)` },
  swift: {
    label: "OpenStack Swift (s3api)",
    install:
      `${APT} swift swift-proxy swift-account swift-container swift-object python3-swift memcached`,
  },
  mongodb: {
    label: "MongoDB",
    install: "set MONGODB_URI=mongodb://USER:PASS@HOST:PORT/DB to a MongoDB server",
  },
};

/** The Python that has GDAL's bindings (`osgeo`) where gdal-bin is installed (Debian's). */
export const GDAL_PYTHON = "/usr/bin/python3";

/** Whether this run is CI (`CI=true` or `CI=1`), where missing tools fail. */
export function isCi(): boolean {
  const ci = Deno.env.get("CI")?.toLowerCase();
  return ci === "true" || ci === "1";
}

const probes = new Map<Tool, Promise<ToolProbe>>();

/** Probes one tool (cached for the module's lifetime); no output, no side effects. */
export function probe(tool: Tool): Promise<ToolProbe> {
  let found = probes.get(tool);
  if (!found) {
    found = PROBES[tool]().then((missing) => ({
      tool,
      ...INSTALL[tool],
      present: missing.length === 0,
      missing: missing.join(", "),
      requiredInCi: tool !== "mongodb",
    }));
    probes.set(tool, found);
  }
  return found;
}

const announced = new Set<string>();

/**
 * The `ignore:` value of a test that needs `tools`: `true` (skip) when one is
 * missing, after printing one line per missing tool naming it and its install
 * command. Under `CI=true` a missing required tool is a failure instead (see
 * the module doc), and this returns `false`.
 */
export async function needs(...tools: Tool[]): Promise<boolean> {
  const site = callSite();
  const results = await Promise.all(tools.map(probe));
  const missing = results.filter((p) => !p.present);
  if (missing.length === 0) return false;
  const failing = isCi() ? missing.filter((p) => p.requiredInCi) : [];
  if (failing.length > 0) {
    for (const p of failing) failInCi(p, site);
    return false;
  }
  for (const p of missing) {
    const key = `${site.file}\0${p.tool}`;
    if (!announced.has(key)) {
      announced.add(key);
      console.log(`SKIP ${relative(site.file)}: ${describe(p)}`);
    }
    await record({ ...site, label: p.label, missing: p.missing, install: p.install });
  }
  return true;
}

/** One line: what is missing and how to install it. */
export function describe(probe: ToolProbe): string {
  return `${probe.label} missing (${probe.missing}); install: ${probe.install}`;
}

function failInCi(p: ToolProbe, site: { file: string }): void {
  const message = `CI=true and ${describe(p)}`;
  const key = `${site.file}\0ci\0${p.tool}`;
  if (announced.has(key)) return;
  try {
    Deno.test(`CI requires ${p.label}`, () => {
      throw new Error(message);
    });
    announced.add(key);
  } catch (error) {
    // Nested registration is refused while a test runs (a step's ignore:):
    // fail that test instead.
    if (error instanceof TypeError) throw new Error(message);
    throw error;
  }
}

async function record(skip: SkipRecord): Promise<void> {
  const dir = Deno.env.get(SKIP_LOG_ENV);
  if (!dir) return;
  await Deno.writeTextFile(`${dir}/${SKIP_LOG_FILE}`, JSON.stringify(skip) + "\n", {
    append: true,
  });
}

/** File URL and line of the code that called `needs` (its caller's frame). */
function callSite(): { file: string; line: number } {
  const frames = (new Error().stack ?? "").split("\n").slice(1);
  const self = import.meta.url;
  for (const frame of frames) {
    const match = frame.match(/(file:\/\/[^\s)]+?):(\d+):\d+\)?\s*$/);
    if (match && match[1] !== self) return { file: match[1]!, line: Number(match[2]) };
  }
  return { file: "unknown", line: 0 };
}

function relative(fileUrl: string): string {
  if (!fileUrl.startsWith("file://")) return fileUrl;
  const path = decodeURIComponent(new URL(fileUrl).pathname);
  const cwd = Deno.cwd();
  return path.startsWith(`${cwd}/`) ? path.slice(cwd.length + 1) : path;
}

// --- the probes: each returns the list of what is missing (empty = present)

const PROBES: Record<Tool, () => Promise<string[]>> = {
  // Debian's gdal-bin depends on python3-gdal: its Python tools and the
  // tests' generators (gdal_calc.py, tests/assets/spatial/_matrix_inputs.py) need it.
  // TOOLS_PROBE_GDAL_PYTHON=0 leaves the bindings out: tools_test fakes the
  // commands on a bare PATH and asserts their messages alone.
  gdal: () =>
    missingCommands(
      ["ogr2ogr", "gdalinfo", "gdal_translate"],
      Deno.env.get("TOOLS_PROBE_GDAL_PYTHON") === "0"
        ? undefined
        : [GDAL_PYTHON, "-c", "from osgeo import gdal"],
    ),
  postgres: () => Deno.env.get("DATABASE_URL") ? Promise.resolve([]) : probePostgresBinaries(),
  "postgres-binaries": probePostgresBinaries,
  postgis: probePostgis,
  chromium: async () => {
    const path = chromiumPath();
    return (await runs(path)) ? [] : [`${path} not found or not runnable`];
  },
  swift: async () => {
    // The Swift servers have no --version (they exit 2 on it); --help runs them.
    const servers = ["proxy", "account", "container", "object"].map((s) => `swift-${s}-server`);
    const checks = await Promise.all([
      missingCommands(["memcached"]),
      missingCommands(servers, undefined, ["--help"]),
      missingCommands([], [
        "/usr/bin/python3",
        "-c",
        "import swift.common.middleware.s3api, swift.common.ring",
      ]),
    ]);
    const missing = checks.flat();
    return missing.length === 0 ? [] : [missing.join("; ")];
  },
  mongodb: () => Promise.resolve(Deno.env.get("MONGODB_URI") ? [] : ["MONGODB_URI is not set"]),
};

/** The Chromium binary tests drive: `CHROMIUM_PATH`, else `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
}

async function missingCommands(
  commands: string[],
  extra?: string[],
  args?: string[],
): Promise<string[]> {
  const checks = commands.map(async (cmd) => (await runs(cmd, args)) ? undefined : cmd);
  if (extra) {
    checks.push(
      runs(extra[0]!, extra.slice(1)).then((ok) => ok ? undefined : `\`${extra.join(" ")}\``),
    );
  }
  const missing = (await Promise.all(checks)).filter((m): m is string => m !== undefined);
  return missing.length === 0 ? [] : [`${missing.join(", ")} not found or not runnable`];
}

/** Whether `cmd` can be executed and exits 0 (with `--version` unless args are given). */
async function runs(cmd: string, args: string[] = ["--version"]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false; // not found, not executable, or hidden: all mean "not runnable here"
  }
}

async function probePostgresBinaries(): Promise<string[]> {
  const binDir = await findPostgresBinDir();
  if (!binDir) {
    return ["initdb/pg_ctl not found (looked at `pg_config --bindir`, /usr/lib/postgresql/*/bin)"];
  }
  const missing = await missingCommands([
    `${binDir}/initdb`,
    `${binDir}/pg_ctl`,
    `${binDir}/postgres`,
  ]);
  // PostgreSQL refuses to run as root: the helper runs it as the postgres user.
  if (Deno.uid() === 0 && !(await runs("id", ["-u", "postgres"]))) {
    missing.push("no `postgres` system user to run the server as (running as root)");
  }
  return missing;
}

async function probePostgis(): Promise<string[]> {
  const server = await probe("postgres");
  if (!server.present) return [`PostgreSQL: ${server.missing}`];
  const databaseUrl = Deno.env.get("DATABASE_URL");
  if (databaseUrl) return await postgisOnServer(databaseUrl);
  const binDir = (await findPostgresBinDir())!;
  const out = await new Deno.Command(`${binDir}/pg_config`, {
    args: ["--sharedir"],
    stderr: "null",
  })
    .output().catch(() => undefined);
  const share = out?.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  const candidates = [
    ...(share ? [share] : []),
    `/usr/share/postgresql/${binDir.split("/").at(-2)}`,
  ];
  for (const dir of candidates) {
    if (await Deno.stat(`${dir}/extension/postgis.control`).then(() => true, () => false)) {
      return [];
    }
  }
  return [`postgis.control not found in ${candidates.join(" or ")}/extension`];
}

async function postgisOnServer(url: string): Promise<string[]> {
  const { default: postgres } = await import("postgres");
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    const rows = await sql.unsafe(
      "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'",
    );
    return rows.length > 0
      ? []
      : ["the postgis extension is not available on DATABASE_URL's server"];
  } catch (error) {
    return [
      `DATABASE_URL's server does not answer (${error instanceof Error ? error.name : "error"})`,
    ];
  } finally {
    await sql.end({ timeout: 5 });
  }
}
