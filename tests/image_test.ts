/**
 * The container image's layout, reproduced without Docker: the code tree is
 * a copy of the repository (what `.dockerignore` lets into the build),
 * root-owned and read-only; the command is the Dockerfile's ENTRYPOINT + CMD
 * with its ENV, run as an unprivileged user (`nobody`, like the image's
 * `deno`) when this runs as root, else as ourselves over a tree with every
 * write bit removed. Deno's cache is a read-only copy too, as in the image.
 *
 * A materialize of every asset group on the server-less defaults must exit
 * 0 and leave the code tree byte-for-byte unchanged, with its state under
 * STATE_DIR; pointing STATE_DIR into the read-only tree must fail at once
 * naming the folder and the variable.
 */

import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const REPO = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const AS_ROOT = Deno.uid() === 0;
const USER = "nobody";

/** What the Dockerfile says about running the image. */
interface ImageSpec {
  readonly env: Record<string, string>;
  readonly user: string | undefined;
  readonly workdir: string;
  readonly command: string[];
  /** A RUN line makes DENO_DIR readable by all (`chmod -R a+rX "$DENO_DIR"`). */
  readonly cacheReadable: boolean;
}

/** Reads ENV, USER, WORKDIR, ENTRYPOINT and CMD (exec form) of a Dockerfile. */
export function parseDockerfile(text: string): ImageSpec {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim());
  const env: Record<string, string> = {};
  let user: string | undefined;
  let workdir = "/";
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  let cacheReadable = false;
  for (const line of lines) {
    const [instruction = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    switch (instruction.toUpperCase()) {
      case "ENV":
        for (const pair of args.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|\S*)/g) ?? []) {
          const at = pair.indexOf("=");
          env[pair.slice(0, at)] = pair.slice(at + 1).replace(/^"|"$/g, "");
        }
        break;
      case "USER":
        user = args;
        break;
      case "WORKDIR":
        workdir = args;
        break;
      case "ENTRYPOINT":
        entrypoint = JSON.parse(args);
        break;
      case "CMD":
        cmd = JSON.parse(args);
        break;
      case "RUN":
        if (/chmod\s+-R\s+a\+rX\s+"?\$\{?DENO_DIR\}?"?/.test(args)) cacheReadable = true;
        break;
    }
  }
  return { env, user, workdir, command: [...entrypoint, ...cmd], cacheReadable };
}

async function run(cmd: string, args: string[], options: Deno.CommandOptions = {}) {
  const out = await new Deno.Command(cmd, { ...options, args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

/** Files the build context holds: tracked and untracked-but-not-ignored, minus .dockerignore. */
async function buildContext(): Promise<string[]> {
  const listed = await run("git", ["ls-files", "-co", "--exclude-standard"], { cwd: REPO });
  assert.equal(listed.code, 0, listed.text);
  const ignored = (await Deno.readTextFile(`${REPO}/.dockerignore`)).split("\n")
    .map((l) => l.trim().replace(/\/$/, "")).filter((l) => l && !l.startsWith("#"));
  return listed.text.trim().split("\n").filter((file) =>
    file && !ignored.some((i) => file === i || file.startsWith(`${i}/`))
  );
}

/** Every file of `dir` with its size and sha-256, to prove nothing changed. */
async function fingerprint(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      if (entry.isDirectory) await walk(path);
      else {
        const bytes = await Deno.readFile(path);
        const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        out.set(relative(dir, path), Array.from(hash, (b) => b.toString(16)).join(""));
      }
    }
  };
  await walk(dir);
  return out;
}

/**
 * The Dockerfile's `chmod -R a+rX "$DENO_DIR"` on the hard-linked copy: a
 * file not readable by all (an npm tarball's 0600 source) is first replaced
 * by a copy of its own, so the host's cache keeps its modes.
 */
async function readableByAll(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      await Deno.chmod(path, (await Deno.stat(path)).mode! | 0o555);
      await readableByAll(path);
    } else if (entry.isFile) {
      const mode = (await Deno.stat(path)).mode! & 0o7777;
      if ((mode & 0o444) === 0o444) continue;
      const data = await Deno.readFile(path);
      await Deno.remove(path);
      await Deno.writeFile(path, data, { mode: mode | 0o444 });
      await Deno.chmod(path, mode | 0o444);
    }
  }
}

async function denoDir(): Promise<string> {
  const info = await run(Deno.execPath(), ["info", "--json"]);
  return JSON.parse(info.text.slice(info.text.indexOf("{"))).denoDir as string;
}

interface Layout extends AsyncDisposable {
  readonly root: string;
  readonly app: string;
  readonly spec: ImageSpec;
  /** Runs `command` (default: the image's) in the layout with `extraEnv`. */
  start(
    args?: string[],
    extraEnv?: Record<string, string>,
  ): Promise<{ code: number; text: string }>;
  /** Maps a path of the container (`/state`) to the host folder standing in for it. */
  host(path: string): string;
}

async function layout(): Promise<Layout> {
  const root = await Deno.makeTempDir({ prefix: "image-layout-" });
  await Deno.chmod(root, 0o755);
  const spec = parseDockerfile(await Deno.readTextFile(`${REPO}/Dockerfile`));
  const app = join(root, spec.workdir);
  for (const file of await buildContext()) {
    await Deno.mkdir(dirname(join(app, file)), { recursive: true });
    await Deno.copyFile(join(REPO, file), join(app, file));
  }
  // The image's DENO_DIR: everything cached at build time, read-only at run time.
  const cache = join(root, "deno-dir");
  const copied = await run("cp", ["-al", await denoDir(), cache]);
  assert.equal(copied.code, 0, copied.text);
  if (spec.cacheReadable) await readableByAll(cache);
  const host = (path: string) => path.startsWith("/") ? join(root, path) : path;
  // The writable places the image provides: the state volume and the /tmp tmpfs.
  for (const place of [spec.env.STATE_DIR, spec.env.TMPDIR ?? "/tmp"]) {
    assert.ok(place, "the Dockerfile sets STATE_DIR");
    await Deno.mkdir(host(place), { recursive: true });
    if (AS_ROOT) await run("chown", [USER, host(place)]);
  }
  if (AS_ROOT) {
    await run("chown", ["-R", "root:root", app]);
    await run("chmod", ["-R", "go-w", app]);
  } else {
    await run("chmod", ["-R", "a-w", app, cache]);
  }
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: host("/tmp"),
    DENO_DIR: cache,
    NO_COLOR: "1",
  };
  for (const [name, value] of Object.entries(spec.env)) {
    env[name] = value.replace(/^(file:\/\/)?\//, (_all, scheme = "") => `${scheme}${root}/`);
  }
  return {
    root,
    app,
    spec,
    host,
    async start(args, extraEnv = {}) {
      const [cmd, ...rest] = args ?? spec.command;
      const program = cmd === "deno" ? Deno.execPath() : cmd!;
      const options = { cwd: app, env: { ...env, ...extraEnv }, clearEnv: true };
      return AS_ROOT
        ? await run("runuser", ["-u", USER, "--", program, ...rest], options)
        : await run(program, rest, options);
    },
    async [Symbol.asyncDispose]() {
      await run("chmod", ["-R", "u+w", root]);
      await Deno.remove(root, { recursive: true });
    },
  };
}

Deno.test("Dockerfile: parsed the way this test reads it", () => {
  const spec = parseDockerfile(
    'FROM x\nENV A=1 B="two words" \\\n  C=/c\nUSER deno\nWORKDIR /app\n' +
      'ENTRYPOINT ["deno", "run", "main.ts"]\nCMD ["materialize"]\n',
  );
  assert.deepEqual(spec, {
    env: { A: "1", B: "two words", C: "/c" },
    user: "deno",
    workdir: "/app",
    command: ["deno", "run", "main.ts", "materialize"],
    cacheReadable: false,
  });
  assert.equal(
    parseDockerfile('RUN deno cache main.ts \\\n  && chmod -R a+rX "$DENO_DIR" \\\n  && x\n')
      .cacheReadable,
    true,
  );
});

Deno.test("Dockerfile: the image's cache is readable by its unprivileged user", async () => {
  // npm tarballs may ship owner-only files (@nodable/entities 3.1.0's sources are
  // 0600): cached as root, the `deno` user could not load them without this step.
  const spec = parseDockerfile(await Deno.readTextFile(`${REPO}/Dockerfile`));
  assert.ok(spec.cacheReadable, 'the Dockerfile runs chmod -R a+rX "$DENO_DIR" after caching');
});

Deno.test({
  name: "image layout: every group materializes from a read-only tree as an unprivileged user",
  async fn(t) {
    await using image = await layout();
    assert.equal(image.spec.user, "deno", "the image runs as the unprivileged `deno` user");
    const before = await fingerprint(image.app);

    await t.step("materialize of every group exits 0 offline on the defaults", async () => {
      const groups = ["weather", "activity", "spatial", "marts", "ops"].map((g) => `group:${g}`);
      const [deno, ...args] = image.spec.command.slice(0, -1);
      const result = await image.start([deno!, ...args, "materialize", groups.join(","), "--json"]);
      assert.equal(result.code, 0, result.text.slice(-4000));
      assert.match(result.text, /"step":"run","status":"success"/);
      assert.match(result.text, /Sample inputs \(SAMPLE_DATA=true.*raw_weather\[/);
      // Nothing but JSON lines and that note: no warning from Deno, a dependency or a
      // refused write into the read-only cache or tree.
      const other = result.text.split("\n").filter((l) => l.trim() && !l.startsWith("{"));
      assert.deepEqual(other.map((l) => l.slice(0, 14)), ["Sample inputs "]);
    });

    await t.step("the code tree is unchanged; state went under STATE_DIR", async () => {
      assert.deepEqual(await fingerprint(image.app), before);
      const state = image.host(image.spec.env.STATE_DIR!);
      for (const made of ["runs.db", "ledger.db", "warehouse/PG_VERSION", "dbt", "data_lake"]) {
        assert.ok(await Deno.stat(`${state}/${made}`), `${made} under STATE_DIR`);
      }
    });

    await t.step("STATE_DIR in the read-only tree fails at once, naming it", async () => {
      const result = await image.start(undefined, { STATE_DIR: `${image.app}/state` });
      assert.notEqual(result.code, 0);
      assert.match(result.text, new RegExp(`Cannot write to ${image.app}/state \\(`));
      assert.match(result.text, /Set STATE_DIR to a writable folder/);
      assert.doesNotMatch(result.text, /^\s+at /m, "no stack trace");
    });
  },
});
