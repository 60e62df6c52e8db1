/**
 * The child process of bench/dbt.ts's jaffle_shop `dbt build` rows: builds
 * jaffle_shop_modern on the warehouse URL given (`pglite` for a new data dir
 * in a temp folder) and prints build time, peak RSS (VmHWM) and node count as
 * JSON. A module of its own, importing only the dbt CLI, so the process holds
 * what `deno task dbt build` holds (bench/dbt.ts's own imports load DuckDB's
 * native library); the parent runs it with the same V8 flags.
 *
 * @module
 */

/** Builds jaffle_shop_modern on `warehouse` and prints `{ build, peakMiB, nodes }`. */
export async function jaffleChild(warehouse: string): Promise<void> {
  const { runDbtCli } = await import("../resources/dbt/cli.ts");
  const fixtures = new URL("../tests/fixtures/dbt/", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "bench-jaffle-" });
  try {
    const copy = async (from: string, to: string): Promise<void> => {
      await Deno.mkdir(to, { recursive: true });
      for await (const e of Deno.readDir(from)) {
        if (e.isDirectory) await copy(`${from}/${e.name}`, `${to}/${e.name}`);
        else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
      }
    };
    await copy(`${fixtures}/jaffle_shop_modern`, `${dir}/proj`);
    await copy(`${fixtures}/packages`, `${dir}/packages`);
    const repo = `${dir}/jaffle_date`;
    await copy(`${fixtures}/packages/jaffle_date`, repo);
    for (
      const args of [["init", "-q", "-b", "main"], ["add", "-A"], [
        "-c",
        "user.email=b@e",
        "-c",
        "user.name=b",
        "commit",
        "-qm",
        "x",
      ]]
    ) {
      await new Deno.Command("git", { args, cwd: repo, stdout: "null" }).output();
    }
    const url = warehouse === "pglite" ? `pglite:${dir}/warehouse` : warehouse;
    // Measure the build, not what loading modules costs before it.
    const env = (name: string) =>
      ({
        WAREHOUSE_URL: url,
        JAFFLE_DATE_REPO: `file://${repo}`,
        STATE_DIR: `${dir}/state`,
      } as Record<string, string>)[name];
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    if (await runDbtCli(["deps", "--project-dir", `${dir}/proj`], io, { env }) !== 0) {
      throw new Error(lines.join("\n"));
    }
    const started = performance.now();
    const code = await runDbtCli(
      ["build", "--project-dir", `${dir}/proj`, "--vars", "{load_source_data: true}"],
      io,
      { env },
    );
    const build = performance.now() - started;
    if (code !== 0) throw new Error(lines.join("\n"));
    // A figure taken with DuckDB's library loaded would not be `dbt build`'s on PGlite.
    if (
      url.startsWith("pglite:") && (await Deno.readTextFile("/proc/self/maps")).includes("duckdb")
    ) {
      throw new Error(
        "bench: the jaffle child loaded DuckDB's native library; its peak would not be dbt build's",
      );
    }
    const status = await Deno.readTextFile("/proc/self/status");
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const nodes = Number(/TOTAL=(\d+)/.exec(lines.join("\n"))?.[1] ?? 0);
    console.log(JSON.stringify({ build, peakMiB: peakKiB / 1024, nodes }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await jaffleChild(Deno.args[0] ?? "pglite");
