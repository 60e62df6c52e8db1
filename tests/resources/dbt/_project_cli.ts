/**
 * Helpers of the tests that run a fixture project through `deno task dbt`
 * in-process: copy it to a temp dir, open the warehouse it builds in (a PGlite
 * folder or a throwaway PostgreSQL), run the CLI collecting its output, and
 * read rows back.
 *
 * @module
 */

import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import type { Tool } from "../../_helpers/tools.ts";

/** Copies a folder recursively. */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

/** A warehouse a fixture project builds in, by url. */
export interface CliTarget {
  /** Shown in test names. */
  readonly name: string;
  /** Native tools it needs (the test's `ignore:` probes them). */
  readonly needs: readonly Tool[];
  /** Opens a fresh one (a PGlite folder under `dir`). */
  open(dir: string): Promise<{ url: string } & AsyncDisposable>;
}

/** A PGlite folder and a throwaway PostgreSQL. */
export const CLI_TARGETS: readonly CliTarget[] = [
  {
    name: "pglite",
    needs: [],
    open: (dir) =>
      Promise.resolve({ url: `pglite:${dir}/warehouse`, [Symbol.asyncDispose]: async () => {} }),
  },
  {
    name: "postgres",
    needs: ["postgres"],
    open: async () => {
      const pg = await startPostgres();
      return { url: pg.url, [Symbol.asyncDispose]: () => pg.stop() };
    },
  },
];

/** A row with bigints as numbers (counts compare with plain numbers). */
export type Row = Record<string, unknown>;

/** Runs `sql` on the warehouse at `url` (opened and closed around it). */
export async function queryRows(url: string, sql: string): Promise<Row[]> {
  await using warehouse = await openWarehouse(url, { onNotice: () => {} });
  return (await warehouse.query<Row>(sql)).map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]),
    )
  );
}

/** Output of one CLI run: the exit code, every line, and stdout alone. */
export interface CliRun {
  /** Exit code. */
  readonly code: number;
  /** stdout and stderr lines, in order. */
  readonly out: string;
  /** stdout lines. */
  readonly stdout: string;
}

/** Runs the dbt CLI in-process with `env` as its whole environment. */
export async function runCli(
  args: readonly string[],
  env: Record<string, string>,
): Promise<CliRun> {
  const lines: string[] = [];
  const stdout: string[] = [];
  const code = await runDbtCli([...args], {
    out: (line) => {
      lines.push(line);
      stdout.push(line);
    },
    err: (line) => lines.push(line),
  }, { env: (name) => env[name] });
  return { code, out: lines.join("\n"), stdout: stdout.join("\n") };
}
