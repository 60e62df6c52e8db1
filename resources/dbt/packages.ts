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
  /** Told one line per package. */
  readonly onInstalled?: (line: string) => void;
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
 * Installs every package into `<project>/<packages-install-path>/<name>`,
 * replacing what was there, and writes `package-lock.yml`. Throws
 * `dbt.package_failed` naming the package and why. A project without
 * packages gets no `package-lock.yml` (dbt's `deps` writes none then): one
 * with `packages: []` appeared as an untracked file in every project that
 * ran `deps` without needing any.
 */
export async function installPackages(
  projectDir: string,
  options: InstallOptions = {},
): Promise<Installed[]> {
  const project = await readProjectFile(projectDir);
  const { specs, unrendered } = await readPackageSpecs(projectDir, options.env);
  const installDir = `${projectDir}/${project["packages-install-path"]}`;
  await Deno.mkdir(installDir, { recursive: true });
  const stagingDir = dirname(installDir);
  await removeStaging(stagingDir);
  const installed: Installed[] = [];
  for (const [index, spec] of specs.entries()) {
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
        const written = (unrendered[index] as { git?: unknown } | undefined)?.git;
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
      await copyDir(source, `${staging}/ready`, skip);
      // The old copy moves aside (into the staging folder, removed below), the new one in.
      await Deno.rename(`${installDir}/${name}`, `${staging}/replaced`).catch(ignoreNotFound);
      await Deno.rename(`${staging}/ready`, `${installDir}/${name}`);
      installed.push({ name, lock: { ...lock, name } });
      options.onInstalled?.(`Installed ${name} (${describe(lock)})`);
    } finally {
      await Deno.remove(staging, { recursive: true }).catch(() => {});
    }
  }
  if (specs.length === 0) return installed;
  // Written whole or not at all, like the packages.
  const lockFile = `${projectDir}/package-lock.yml`;
  const lockTemp = `${stagingDir}/${STAGING_PREFIX}${crypto.randomUUID().slice(0, 8)}.yml`;
  try {
    await Deno.writeTextFile(
      lockTemp,
      stringify({
        packages: installed.map((p) => p.lock),
        // Of the entries as written: a hash of the rendered ones would hash their secrets.
        sha1_hash: await sha1(JSON.stringify(unrendered)),
      }),
    );
    await Deno.rename(lockTemp, lockFile);
  } finally {
    await Deno.remove(lockTemp).catch(ignoreNotFound);
  }
  return installed;
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
