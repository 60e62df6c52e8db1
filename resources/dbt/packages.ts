/**
 * `dbt deps`: installs the packages of `packages.yml` (or the `packages:` of
 * `dependencies.yml`) into `dbt_packages/`, and records what was installed
 * in `package-lock.yml`. Three kinds:
 *
 * - `local: path` — copied from a folder (relative to the project);
 * - `git: url` (+ `revision`, `subdirectory`) — cloned with the git command
 *   (any URL git takes, `file://` included) at the revision;
 * - `package: org/name` + `version` — resolved against a package hub
 *   (`DBT_PACKAGE_HUB_URL`, dbt's hub API: `<hub>/api/v1/<org>/<name>.json`
 *   listing versions with a `downloads.tarball` URL), downloaded and
 *   unpacked with tar.
 *
 * As dbt 1.7+: with a `package-lock.yml` written for the same entries (its
 * `sha1_hash`, dbt's hash of the entries), `deps` installs what the lock pins
 * (hub versions, git commits) instead of resolving again; without one, with
 * other entries, or with `--upgrade`, it resolves (packages' own
 * `packages.yml` too) and writes the lock. `--lock` writes the lock only.
 *
 * A package appears in `dbt_packages/` whole or not at all: it is fetched and
 * copied into a staging folder next to `dbt_packages/` (`.dbt-deps-*`, the
 * same file system) and renamed into place. Copied in place, a `dbt deps`
 * killed midway left a half package that the next build read as the package
 * (a macro it overrides missing, dispatch falls back to the default without
 * a word). Staging folders of a killed `deps` are removed by the next one.
 *
 * @module
 */

import { dirname } from "node:path";
import { z } from "zod";
import { parse as parseYamlText, stringify } from "yaml";
import { DbtError, DbtErrorCode } from "./errors.ts";
import { readProjectFile } from "./project/project_file.ts";
import { renderValue } from "./jinja/env.ts";
import { toError } from "../../core/errors.ts";

const PackageSchema = z.union([
  z.looseObject({ local: z.string().min(1) }),
  z.looseObject({
    git: z.string().min(1),
    revision: z.union([z.string(), z.number()]).optional(),
    subdirectory: z.string().optional(),
  }),
  z.looseObject({
    package: z.string().regex(/^[\w.-]+\/[\w.-]+$/, "must be org/name"),
    version: z.union([z.string(), z.number(), z.array(z.union([z.string(), z.number()]))])
      .optional(),
  }),
]);

const PackagesFileSchema = z.looseObject({ packages: z.array(PackageSchema).default([]) });

/** A package entry of packages.yml. */
export type PackageSpec = z.output<typeof PackageSchema>;

/** Options of {@linkcode installPackages}. */
export interface InstallOptions {
  /**
   * The package hub's base URL.
   * @default {DBT_PACKAGE_HUB_URL, else https://hub.getdbt.com}
   */
  readonly hubUrl?: string;
  /** Fetch, for the hub (tests pass a loopback server's). */
  readonly fetch?: typeof fetch;
  /** Reads environment variables (`env_var()` in packages.yml). */
  readonly env?: (name: string) => string | undefined;
  /** Told one line per package, and when the lock file is written. */
  readonly onInstalled?: (line: string) => void;
  /** dbt's `--upgrade`: resolve again even when the lock matches packages.yml. */
  readonly upgrade?: boolean;
  /** dbt's `--lock`: resolve and write the lock (when due) without installing. */
  readonly lockOnly?: boolean;
}

/** What was installed. */
export interface Installed {
  /** Package name (its dbt_project.yml `name`). */
  readonly name: string;
  /** The entry as locked. */
  readonly lock: Record<string, unknown>;
}

/** Reads the package entries of the project (packages.yml, else dependencies.yml). */
export async function readPackageSpecs(
  projectDir: string,
  env?: (name: string) => string | undefined,
): Promise<{ file: string; specs: PackageSpec[]; unrendered: unknown[] }> {
  for (const file of ["packages.yml", "dependencies.yml"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(`${projectDir}/${file}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    // dbt renders packages.yml with env_var() (private git URLs, tokens).
    const raw: unknown = parseYamlText(text) ?? {};
    const rendered = renderValue(raw, {
      env: env ?? ((name: string) => Deno.env.get(name)),
      file,
      allowSecrets: true,
    });
    const parsed = PackagesFileSchema.safeParse(rendered);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DbtError(
        DbtErrorCode.invalidYaml,
        `packages: ${
          issue?.path.join(".")
        }: ${issue?.message}; each entry needs local:, git: or package:`,
        { file },
      );
    }
    const entries = (raw as { packages?: unknown }).packages;
    return { file, specs: parsed.data.packages, unrendered: Array.isArray(entries) ? entries : [] };
  }
  return { file: "packages.yml", specs: [], unrendered: [] };
}

/**
 * Installs the packages into `<project>/<packages-install-path>/<name>`,
 * replacing what was there: those `package-lock.yml` pins when it was written
 * for the same entries, else the entries resolved again (and the lock
 * written). Throws `dbt.package_failed` naming the package and why, and
 * `dbt.invalid_yaml` for a lock that is not YAML.
 */
export async function installPackages(
  projectDir: string,
  options: InstallOptions = {},
): Promise<Installed[]> {
  const project = await readProjectFile(projectDir);
  const { specs, unrendered } = await readPackageSpecs(projectDir, options.env);
  const installDir = `${projectDir}/${project["packages-install-path"]}`;
  const lockFile = `${projectDir}/package-lock.yml`;
  const hash = await packagesHash(specs, unrendered);
  const previous = await readLock(lockFile);
  const relock = previous === undefined || options.upgrade === true ||
    previous.sha1_hash !== hash;
  if (!relock && options.lockOnly) return [];
  await Deno.mkdir(installDir, { recursive: true });
  const stagingDir = dirname(installDir);
  await removeStaging(stagingDir);
  const run: Run = { projectDir, installDir, stagingDir, options, keep: !options.lockOnly };
  if (!relock) {
    const entries = lockEntries(previous, options.env);
    const installed: Installed[] = [];
    for (const entry of entries) {
      installed.push((await installOne(run, entry.spec, entry.raw)).installed);
    }
    return installed;
  }
  const installed = await resolveAll(run, specs, unrendered);
  // dbt writes no lock for no packages (DepsNoPackagesFound): a README `deps` on a project
  // without packages leaves the clone clean.
  if (specs.length === 0) return installed;
  // Written whole or not at all, like the packages.
  const lockTemp = `${stagingDir}/${STAGING_PREFIX}${crypto.randomUUID().slice(0, 8)}.yml`;
  try {
    await Deno.writeTextFile(
      lockTemp,
      stringify({ packages: installed.map((p) => p.lock), sha1_hash: hash }),
    );
    await Deno.rename(lockTemp, lockFile);
  } finally {
    await Deno.remove(lockTemp).catch(ignoreNotFound);
  }
  options.onInstalled?.(`Updating lock file in file path: ${lockFile}`);
  return installed;
}

/** One `deps` run's folders and options. */
interface Run {
  readonly projectDir: string;
  readonly installDir: string;
  readonly stagingDir: string;
  readonly options: InstallOptions;
  /** False for `--lock`: packages are fetched to be pinned, not installed. */
  readonly keep: boolean;
}

/**
 * Fetches the entries and, as dbt's resolver does, the packages their own
 * packages.yml names (once each: the first entry naming a package wins, as
 * long as what it resolved to satisfies the later ones).
 */
async function resolveAll(
  run: Run,
  specs: readonly PackageSpec[],
  unrendered: readonly unknown[],
): Promise<Installed[]> {
  const queue = specs.map((spec, index) => ({
    spec,
    raw: unrendered[index],
    from: "packages.yml",
  }));
  const seen = new Map<string, Installed>();
  const installed: Installed[] = [];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const key = specKey(next.spec);
    // A dependency's hub entry for a package already installed under its name (a project that
    // installs dbt_date from a folder, and dbt_expectations asking for godatadriven/dbt_date):
    // the installed one stays, as only one package of a name can be in dbt_packages/.
    const hubShort = typeof next.spec.package === "string"
      ? next.spec.package.split("/").at(-1)
      : undefined;
    if (next.from !== "packages.yml" && installed.some((p) => p.name === hubShort)) continue;
    const earlier = seen.get(key);
    if (earlier) {
      const wanted = next.spec.version;
      const version = String(earlier.lock.version ?? "");
      if (wanted !== undefined && version && !satisfies(version, [wanted].flat().map(String))) {
        throw failed(
          key,
          `${next.from} wants ${
            [wanted].flat().join(", ")
          } but ${version} was chosen for an earlier entry`,
        );
      }
      continue;
    }
    const { installed: one, own } = await installOne(run, next.spec, next.raw);
    seen.set(key, one);
    installed.push(one);
    own.specs.forEach((spec, index) =>
      queue.push({ spec, raw: own.unrendered[index], from: `${one.name}'s ${own.file}` })
    );
  }
  return installed;
}

/** What identifies a package across entries (dbt merges entries of one package). */
function specKey(spec: PackageSpec): string {
  if (typeof spec.local === "string") return `local:${spec.local}`;
  if (typeof spec.git === "string") return `git:${spec.git}#${spec.subdirectory ?? ""}`;
  return `hub:${String(spec.package)}`;
}

/** Fetches one entry and, unless `--lock`, installs it. */
async function installOne(
  run: Run,
  spec: PackageSpec,
  raw: unknown,
): Promise<{ installed: Installed; own: Awaited<ReturnType<typeof readPackageSpecs>> }> {
  const { projectDir, installDir, stagingDir, options } = run;
  const staging = await Deno.makeTempDir({ dir: stagingDir, prefix: STAGING_PREFIX });
  try {
    let lock: Record<string, unknown>;
    let source = staging;
    const local = typeof spec.local === "string" ? spec.local : undefined;
    const gitUrl = typeof spec.git === "string" ? spec.git : undefined;
    const hubName = typeof spec.package === "string" ? spec.package : undefined;
    if (local !== undefined) {
      const from = local.startsWith("/") ? local : `${projectDir}/${local}`;
      source = await Deno.realPath(from).catch((error) => {
        throw failed(`local: ${local}`, `cannot read ${from}: ${message(error)}`);
      });
      lock = { local };
    } else if (gitUrl !== undefined) {
      const revision = spec.revision === undefined ? undefined : String(spec.revision);
      const sub = typeof spec.subdirectory === "string" ? spec.subdirectory : undefined;
      // As written (`https://{{ env_var('DBT_ENV_SECRET_GIT_CREDENTIAL') }}@host/...`), as
      // dbt locks it: the rendered URL carries the token, and package-lock.yml is committed.
      const written = (raw as { git?: unknown } | undefined)?.git;
      const shown = typeof written === "string" ? written : gitUrl;
      await git(["clone", "--quiet", gitUrl, `${staging}/repo`], `git: ${shown}`);
      if (revision) {
        await git(
          ["-C", `${staging}/repo`, "checkout", "--quiet", revision],
          `git: ${shown}@${revision}`,
        );
      }
      const sha = (await git(["-C", `${staging}/repo`, "rev-parse", "HEAD"], `git: ${shown}`))
        .trim();
      await Deno.remove(`${staging}/repo/.git`, { recursive: true });
      source = sub ? `${staging}/repo/${sub}` : `${staging}/repo`;
      lock = { git: shown, revision: sha, ...(sub ? { subdirectory: sub } : {}) };
    } else if (hubName !== undefined) {
      const hub =
        (options.hubUrl ?? Deno.env.get("DBT_PACKAGE_HUB_URL") ?? "https://hub.getdbt.com")
          .replace(/\/+$/, "");
      const version = await fromHub(hub, hubName, spec.version, staging, options.fetch ?? fetch);
      source = version.dir;
      lock = { package: hubName, version: version.version };
    } else {
      throw failed(JSON.stringify(spec), "each entry needs local:, git: or package:");
    }
    const name = (await readProjectFile(source).catch((error) => {
      throw failed(JSON.stringify(lock), `it has no valid dbt_project.yml: ${message(error)}`);
    })).name;
    // A package's own integration_tests project installs the package around it (`local: ../`,
    // the usual layout of dbt packages): that copy leaves the installing project out, or it
    // copied itself (and its staging folder) into itself until the path was too long.
    const skip = local === undefined ? [] : [await Deno.realPath(projectDir)];
    const installed = { name, lock: { ...lock, name } };
    // Its dependencies, from its packages.yml as shipped.
    const own = await readPackageSpecs(source, options.env);
    if (!run.keep) return { installed, own };
    await copyDir(source, `${staging}/ready`, skip);
    // The old copy moves aside (into the staging folder, removed below), the new one in.
    await Deno.rename(`${installDir}/${name}`, `${staging}/replaced`).catch(ignoreNotFound);
    await Deno.rename(`${staging}/ready`, `${installDir}/${name}`);
    options.onInstalled?.(`Installed ${name} (${describe(lock)})`);
    return { installed, own };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

const LockFileSchema = z.looseObject({
  packages: z.array(z.unknown()).nullish(),
  sha1_hash: z.string().nullish(),
});

/** package-lock.yml as written, or undefined without one (or one of another shape: relocked). */
async function readLock(
  file: string,
): Promise<z.output<typeof LockFileSchema> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let raw: unknown;
  try {
    raw = parseYamlText(text);
  } catch (error) {
    // dbt fails on it too (load_yml_dict); rewriting it would hide a bad merge of the lock.
    throw new DbtError(
      DbtErrorCode.invalidYaml,
      `package-lock.yml is not valid YAML (${
        message(error).split("\n")[0]
      }); fix it, or remove it and run deps again to write a new one`,
      { file: "package-lock.yml" },
    );
  }
  const parsed = LockFileSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** The lock's entries, rendered (env_var in git URLs) and checked like packages.yml's. */
function lockEntries(
  lock: z.output<typeof LockFileSchema>,
  env: ((name: string) => string | undefined) | undefined,
): { spec: PackageSpec; raw: unknown }[] {
  const raws = lock.packages ?? [];
  const rendered = renderValue(raws, {
    env: env ?? ((name: string) => Deno.env.get(name)),
    file: "package-lock.yml",
    allowSecrets: true,
  });
  const parsed = z.array(PackageSchema).safeParse(rendered);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DbtError(
      DbtErrorCode.invalidYaml,
      `packages: ${
        issue?.path.join(".")
      }: ${issue?.message}; each entry needs local:, git: or package: (remove package-lock.yml and run deps again to write a new one)`,
      { file: "package-lock.yml" },
    );
  }
  return parsed.data.map((spec, index) => ({ spec, raw: raws[index] }));
}

/**
 * dbt-core's `_create_sha1_hash` of the entries: each entry as its package
 * contract serialises (defaults filled in, the entry as written under
 * `unrendered`), as Python's `json.dumps(sort_keys=True)`, the lines sorted.
 * A lock written by dbt for the same packages.yml therefore matches (checked
 * for hub entries against locks dbt wrote).
 */
export async function packagesHash(
  specs: readonly PackageSpec[],
  unrendered: readonly unknown[],
): Promise<string> {
  const lines = specs.map((spec, index) => {
    const raw = unrendered[index] ?? spec;
    let contract: Record<string, unknown>;
    if (typeof spec.local === "string") contract = { local: spec.local, unrendered: raw };
    else if (typeof spec.git === "string") {
      contract = {
        git: spec.git,
        revision: spec.revision ?? null,
        "warn-unpinned": (spec as Record<string, unknown>)["warn-unpinned"] ?? null,
        subdirectory: spec.subdirectory ?? null,
        unrendered: raw,
      };
    } else {
      contract = {
        package: spec.package,
        version: spec.version,
        install_prerelease: (spec as Record<string, unknown>)["install-prerelease"] ?? false,
        unrendered: raw,
      };
    }
    return pythonJson(contract);
  }).sort();
  return await sha1(lines.join("\n"));
}

/** Python's `json.dumps(value, sort_keys=True)`: `", "` / `": "` separators, ASCII only. */
function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`).join(", ")}}`;
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value);
}

/** Name prefix of the staging folders (and lock file) of `deps`, next to `dbt_packages/`. */
const STAGING_PREFIX = ".dbt-deps-";

/** Removes what a killed `deps` left in `dir`: its staging folders and files. */
async function removeStaging(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.startsWith(STAGING_PREFIX)) continue;
    await Deno.remove(`${dir}/${entry.name}`, { recursive: true }).catch(ignoreNotFound);
  }
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

function describe(lock: Record<string, unknown>): string {
  if (lock.local) return `local ${lock.local}`;
  if (lock.git) return `git ${lock.git}@${String(lock.revision).slice(0, 10)}`;
  return `${lock.package} ${lock.version}`;
}

function message(error: unknown): string {
  return toError(error).message;
}

function failed(what: string, why: string): DbtError {
  return new DbtError(DbtErrorCode.packageFailed, `package ${what} cannot be installed: ${why}`, {
    file: "packages.yml",
  });
}

async function git(args: string[], what: string): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("git", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    throw failed(what, `git cannot run (${message(error)}); install git (apt-get install -y git)`);
  }
  if (!output.success) {
    throw failed(what, new TextDecoder().decode(output.stderr).trim() || `git ${args[0]} failed`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** Copies a package's folder, leaving out `skip` (the installing project when inside it). */
async function copyDir(from: string, to: string, skip: readonly string[] = []): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name === ".git" || entry.name === "dbt_packages" || entry.name === "target") continue;
    const src = `${from}/${entry.name}`;
    const dst = `${to}/${entry.name}`;
    if (entry.isDirectory) {
      if (!skip.includes(await Deno.realPath(src))) await copyDir(src, dst, skip);
    } else if (entry.isFile) await Deno.copyFile(src, dst);
  }
}

async function sha1(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether version `v` satisfies every range of `ranges` (`>=1.0.0`, `<2.0.0`, `1.1.0`). */
export function satisfies(v: string, ranges: readonly string[]): boolean {
  const parts = (s: string) => s.split(".").map((n) => Number.parseInt(n, 10) || 0);
  const compare = (a: string, b: string) => {
    const [x, y] = [parts(a), parts(b)];
    for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  };
  return ranges.every((range) => {
    const m = /^\s*(>=|<=|>|<|=)?\s*v?([\d.]+)\s*$/.exec(range);
    if (!m) return false;
    const c = compare(v, m[2] as string);
    switch (m[1]) {
      case ">=":
        return c >= 0;
      case "<=":
        return c <= 0;
      case ">":
        return c > 0;
      case "<":
        return c < 0;
      default:
        return c === 0;
    }
  });
}

async function fromHub(
  hub: string,
  name: string,
  version: unknown,
  staging: string,
  fetcher: typeof fetch,
): Promise<{ dir: string; version: string }> {
  const url = `${hub}/api/v1/${name}.json`;
  let index: { versions?: Record<string, { downloads?: { tarball?: string } }> };
  try {
    const response = await fetcher(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    index = await response.json();
  } catch (error) {
    throw failed(
      name,
      `the hub ${hub} did not answer for ${url} (${
        message(error)
      }); set DBT_PACKAGE_HUB_URL to a reachable hub`,
    );
  }
  const ranges = [version ?? ">=0.0.0"].flat().map(String);
  const candidates = Object.keys(index.versions ?? {})
    .filter((v) => /^\d+\.\d+\.\d+$/.test(v) && satisfies(v, ranges))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const chosen = candidates.at(-1);
  if (!chosen) throw failed(name, `no version on ${hub} satisfies ${ranges.join(", ")}`);
  const tarball = index.versions?.[chosen]?.downloads?.tarball;
  if (!tarball) throw failed(name, `the hub lists ${chosen} without a tarball`);
  const response = await fetcher(new URL(tarball, url).href);
  if (!response.ok) throw failed(name, `downloading ${tarball}: HTTP ${response.status}`);
  await Deno.writeFile(`${staging}/pkg.tar.gz`, new Uint8Array(await response.arrayBuffer()));
  await Deno.mkdir(`${staging}/unpacked`);
  const tar = await new Deno.Command("tar", {
    args: ["-xzf", `${staging}/pkg.tar.gz`, "-C", `${staging}/unpacked`],
    stderr: "piped",
  }).output();
  if (!tar.success) {
    throw failed(name, `cannot unpack ${tarball}: ${new TextDecoder().decode(tar.stderr)}`);
  }
  // Tarballs hold one top folder (GitHub archives do).
  const entries = await Array.fromAsync(Deno.readDir(`${staging}/unpacked`));
  const top = entries.length === 1 && entries[0]?.isDirectory
    ? `${staging}/unpacked/${entries[0].name}`
    : `${staging}/unpacked`;
  return { dir: top, version: chosen };
}
