/**
 * Starts OpenStack Swift with its S3 API (the `s3api` middleware) as a single
 * node on loopback, in a temporary folder: a real S3 implementation for the
 * object store's tests, where s3rver's gaps would hide bugs (it checks no
 * signature, copies without `CopySourceIfMatch` preconditions, stores no
 * multipart manifest and keeps metadata names verbatim).
 *
 * What runs (Debian packages `swift swift-proxy swift-account
 * swift-container swift-object python3-swift memcached`; probe with
 * `needs("swift")` from `tools.ts`):
 *
 * - memcached (tempauth and s3api keep tokens and bucket info there);
 * - the account, container and object servers, each `workers = 0` (one
 *   process), one device that is a plain folder (`mount_check = false`);
 * - the proxy with `s3api` just before `tempauth` (as the s3api docs ask),
 *   `slo` for multipart uploads and `copy` for server-side copies;
 * - rings of one device and one replica, built by one Python call to
 *   Swift's own `RingBuilder` (nine `swift-ring-builder` runs cost ~5 s).
 *
 * Every port is a free loopback port, every file lives in the temp folder
 * (its own `swift.conf` too: `swift_dir` points there), and logs go to
 * `<dir>/<server>.log` (shown in the error when the start fails). Start one
 * per test file: it takes 5-15 s depending on load.
 *
 * S3 credentials come from tempauth: access key `test:tester` (account and
 * user), secret `testing`.
 *
 * When a test process dies without `stop()`, its servers keep running until
 * the next `startSwift()` on the machine, which stops (by the pids recorded
 * in the folder, checked against their command line) and deletes the
 * servers of every `swifttest-*` folder whose owner process is gone.
 *
 * @example
 * ```ts ignore
 * import { startSwift } from "./swift.ts";
 * await using swift = await startSwift();
 * console.log(swift.endpoint); // http://127.0.0.1:40123
 * ```
 *
 * @module
 */

import { dirname } from "node:path";

/** Access key id Swift's tempauth accepts for the S3 API (`account:user`). */
export const SWIFT_ACCESS_KEY_ID = "test:tester";
/** Secret access key of {@linkcode SWIFT_ACCESS_KEY_ID} (the tempauth password). */
export const SWIFT_SECRET_ACCESS_KEY = "testing";

/** A running single-node Swift; stop it (or dispose it) before the test ends. */
export interface SwiftHandle extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` of the proxy (S3 API, path-style buckets). */
  readonly endpoint: string;
  /** Credentials the S3 API accepts. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Folder holding configs, rings, the device and logs; removed by `stop`. */
  readonly directory: string;
  /** The last lines of every server's log, for a failing test's message. */
  logs(lines?: number): Promise<string>;
  /** Stops every process and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startSwift}. */
export interface StartSwiftOptions {
  /**
   * How long to wait for every server to answer, in seconds (Python and
   * eventlet start slowly on a loaded machine).
   *
   * @default {120}
   */
  startTimeoutSeconds?: number;
}

const PREFIX = "swifttest-";
const PORT_ATTEMPTS = 3;
const OWNER_FILE = "owner.pid";
const PIDS_FILE = "servers.pid";
const SERVERS = ["account", "container", "object"] as const;
type Server = typeof SERVERS[number] | "proxy";

/** Starts memcached and the four Swift servers; throws with their logs when one does not come up. */
export async function startSwift(options: StartSwiftOptions = {}): Promise<SwiftHandle> {
  // Ports are probed free, then bound by the servers: another process may win
  // one in between (8 engineers share this machine), so start again on new ports.
  for (let attempt = 1;; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !(error instanceof PortTakenError)) throw error;
    }
  }
}

/** A server could not bind its port (taken since it was probed free). */
class PortTakenError extends Error {}

async function startOnce(options: StartSwiftOptions): Promise<SwiftHandle> {
  const directory = await Deno.makeTempDir({ prefix: PREFIX });
  const processes: Deno.ChildProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopAll(processes);
    await Deno.remove(directory, { recursive: true }).catch(() => {});
  };
  const logs = (lines = 40) => tailLogs(directory, lines);
  let proxyPort = 0;
  try {
    await Deno.writeTextFile(`${directory}/${OWNER_FILE}`, String(Deno.pid));
    await reapOrphans(directory);
    const ports = freePorts(5);
    const [memcached, proxy, account, container, object] = ports as [
      number,
      number,
      number,
      number,
      number,
    ];
    proxyPort = proxy;
    const user = await currentUser();
    await writeConfigs(directory, { memcached, proxy, account, container, object }, user);
    await buildRings(directory, { account, container, object });
    const spawn = async (name: string, cmd: string, args: string[]) => {
      const log = await Deno.open(`${directory}/${name}.log`, { write: true, create: true });
      const child = new Deno.Command(cmd, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      processes.push(child);
      await Deno.writeTextFile(`${directory}/${PIDS_FILE}`, `${child.pid}\n`, { append: true });
      // Both streams into one log; the file closes when both end.
      let open = 2;
      const sink = () =>
        new WritableStream<Uint8Array>({
          write: async (chunk) => void await log.write(chunk),
          close: () => void (--open === 0 && log.close()),
          abort: () => void (--open === 0 && log.close()),
        });
      child.stdout.pipeTo(sink()).catch(() => {});
      child.stderr.pipeTo(sink()).catch(() => {});
    };
    // -P only names the folder in its command line (it writes no pid file without -d),
    // which is how an orphan reaper recognises it.
    await spawn("memcached", "memcached", [
      ...["-l", "127.0.0.1", "-p", String(memcached), "-U", "0", "-m", "16", "-u", user],
      ...["-P", `${directory}/memcached.pid`],
    ]);
    for (const server of [...SERVERS, "proxy"] as Server[]) {
      await spawn(server, `swift-${server}-server`, [`${directory}/${server}-server.conf`, "-v"]);
    }
    const deadline = Date.now() + (options.startTimeoutSeconds ?? 120) * 1000;
    await waitForHealth({ account, container, object, proxy }, processes, deadline);
  } catch (error) {
    const detail = await logs().catch(() => "");
    await stop();
    const taken = /address already in use|errno 98/i.test(detail);
    throw new (taken ? PortTakenError : Error)(
      `Cannot start OpenStack Swift on loopback: ${messageOf(error)}` +
        (detail ? `\nserver logs:\n${detail}` : ""),
      { cause: error },
    );
  }
  return {
    endpoint: `http://127.0.0.1:${proxyPort}`,
    credentials: { accessKeyId: SWIFT_ACCESS_KEY_ID, secretAccessKey: SWIFT_SECRET_ACCESS_KEY },
    directory,
    logs,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

interface Ports {
  memcached: number;
  proxy: number;
  account: number;
  container: number;
  object: number;
}

async function writeConfigs(dir: string, ports: Ports, user: string): Promise<void> {
  await Deno.mkdir(`${dir}/srv/d1`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/swift.conf`,
    ini({
      "swift-hash": {
        swift_hash_path_prefix: crypto.randomUUID(),
        swift_hash_path_suffix: crypto.randomUUID(),
      },
      "storage-policy:0": { name: "Policy-0", default: "yes" },
    }),
  );
  const common = {
    bind_ip: "127.0.0.1",
    workers: "0",
    user,
    swift_dir: dir,
    devices: `${dir}/srv`,
    mount_check: "false",
    disable_fallocate: "true",
    // No syslog here: -v copies every line to stdout, which goes to <server>.log.
    log_address: `${dir}/no-syslog`,
    log_level: "INFO",
  };
  for (const server of SERVERS) {
    await Deno.writeTextFile(
      `${dir}/${server}-server.conf`,
      ini({
        DEFAULT: { ...common, bind_port: String(ports[server]) },
        "pipeline:main": { pipeline: `healthcheck ${server}-server` },
        [`app:${server}-server`]: { use: `egg:swift#${server}` },
        "filter:healthcheck": { use: "egg:swift#healthcheck" },
      }),
    );
  }
  await Deno.writeTextFile(
    `${dir}/proxy-server.conf`,
    ini({
      DEFAULT: { ...common, bind_port: String(ports.proxy) },
      "pipeline:main": {
        // s3api right before the auth filter; slo (multipart) and copy after it.
        pipeline: "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats " +
          "s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server",
      },
      "app:proxy-server": { use: "egg:swift#proxy", account_autocreate: "true" },
      "filter:tempauth": {
        use: "egg:swift#tempauth",
        user_test_tester: `${SWIFT_SECRET_ACCESS_KEY} .admin`,
      },
      "filter:s3api": { use: "egg:swift#s3api", location: "us-east-1" },
      "filter:cache": {
        use: "egg:swift#memcache",
        memcache_servers: `127.0.0.1:${ports.memcached}`,
      },
      "filter:catch_errors": { use: "egg:swift#catch_errors" },
      "filter:gatekeeper": { use: "egg:swift#gatekeeper" },
      "filter:healthcheck": { use: "egg:swift#healthcheck" },
      "filter:proxy-logging": { use: "egg:swift#proxy_logging" },
      "filter:listing_formats": { use: "egg:swift#listing_formats" },
      "filter:copy": { use: "egg:swift#copy" },
      "filter:slo": { use: "egg:swift#slo" },
      "filter:dlo": { use: "egg:swift#dlo" },
      "filter:versioned_writes": { use: "egg:swift#versioned_writes" },
    }),
  );
}

function ini(sections: Record<string, Record<string, string>>): string {
  return Object.entries(sections).map(([name, values]) =>
    `[${name}]\n${Object.entries(values).map(([k, v]) => `${k} = ${v}\n`).join("")}`
  ).join("\n");
}

// One device, one replica, 2^6 partitions per ring: the smallest ring Swift runs on.
const RING_SCRIPT = `
import sys
from swift.common.ring import RingBuilder
directory = sys.argv[1]
for name, port in zip(("account", "container", "object"), sys.argv[2:5]):
    builder = RingBuilder(6, 1, 0)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
                     "port": int(port), "device": "d1", "weight": 1.0})
    builder.rebalance()
    builder.get_ring().save("%s/%s.ring.gz" % (directory, name))
`;

async function buildRings(dir: string, ports: Omit<Ports, "memcached" | "proxy">): Promise<void> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      RING_SCRIPT,
      dir,
      String(ports.account),
      String(ports.container),
      String(
        ports.object,
      ),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`building the rings failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** Polls each server's /healthcheck until all answer 200, failing early when one exits. */
async function waitForHealth(
  ports: Omit<Ports, "memcached">,
  processes: Deno.ChildProcess[],
  deadline: number,
): Promise<void> {
  const exited = processes.map((p, i) => p.status.then((s) => ({ i, code: s.code })));
  let firstExit: { i: number; code: number } | undefined;
  void Promise.race(exited).then((e) => firstExit = e);
  const pending = new Set(Object.entries(ports));
  while (pending.size > 0) {
    if (firstExit !== undefined) {
      const names = ["memcached", ...SERVERS, "proxy"];
      throw new Error(`${names[firstExit.i]} exited with code ${firstExit.code} while starting`);
    }
    if (Date.now() > deadline) {
      throw new Error(`no answer from ${[...pending].map(([n]) => n).join(", ")} in time`);
    }
    for (const entry of [...pending]) {
      if (await healthy(entry[1])) pending.delete(entry);
    }
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/healthcheck`, {
      signal: AbortSignal.timeout(5000),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false; // not listening yet
  }
}

async function stopAll(processes: Deno.ChildProcess[]): Promise<void> {
  await Promise.all(processes.map(async (child) => {
    try {
      child.kill("SIGTERM");
    } catch {
      return; // already exited
    }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }, 10_000);
    await child.status;
    clearTimeout(timer);
  }));
}

async function tailLogs(dir: string, lines: number): Promise<string> {
  const parts: string[] = [];
  for (const name of ["memcached", ...SERVERS, "proxy"]) {
    const text = await Deno.readTextFile(`${dir}/${name}.log`).catch(() => "");
    if (text.trim() === "") continue;
    parts.push(`--- ${name}\n${text.trimEnd().split("\n").slice(-lines).join("\n")}`);
  }
  return parts.join("\n");
}

/** Free loopback ports, all held open until every one is found so none repeats. */
function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => l.addr.port);
  for (const listener of listeners) listener.close();
  return ports;
}

async function currentUser(): Promise<string> {
  const out = await new Deno.Command("id", { args: ["-un"], stderr: "null" }).output();
  if (!out.success) throw new Error("`id -un` failed: cannot tell which user to run Swift as");
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Stops and deletes the servers of test processes that died before calling
 * `stop()`. A recorded pid is signalled only while its command line still
 * names that folder (a reused pid belongs to someone else). Best effort.
 */
export async function reapOrphans(ours: string): Promise<void> {
  const parent = dirname(ours);
  for await (const entry of Deno.readDir(parent)) {
    const dir = `${parent}/${entry.name}`;
    if (!entry.isDirectory || !entry.name.startsWith(PREFIX) || dir === ours) continue;
    const owner = Number(await Deno.readTextFile(`${dir}/${OWNER_FILE}`).catch(() => NaN));
    // An empty owner file (created, its pid not yet written) reads as 0: a folder
    // being made by a live process, not a dead owner's.
    if (!Number.isInteger(owner) || owner <= 0 || await isAlive(owner)) continue;
    const pids = (await Deno.readTextFile(`${dir}/${PIDS_FILE}`).catch(() => ""))
      .split("\n").map(Number).filter((pid) => Number.isInteger(pid) && pid > 0);
    for (const pid of pids) {
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
      if (cmdline.includes(dir)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* exited meanwhile */ }
      }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
