/**
 * Who executes a run: this process's {@linkcode RunOwner} identity, and
 * whether another owner on this host is certainly gone. Runs carry their
 * owner and its heartbeat in the run store; a run whose owner stopped
 * heartbeating is failed by whoever notices first (`reapDeadRuns`).
 *
 * @module
 */

import type { RunOwner } from "./run_store/types.ts";

let current: RunOwner | undefined;

/**
 * This process as a run owner: host name, pid and a random instance id made
 * once per process (a restarted process with the same pid is another owner).
 *
 * @example
 * ```ts
 * import { processOwner } from "./owner.ts";
 * const me = processOwner();
 * me.pid === Deno.pid; // true
 * ```
 */
export function processOwner(): RunOwner {
  current ??= Object.freeze({ instanceId: crypto.randomUUID(), host: hostName(), pid: Deno.pid });
  return current;
}

/** The host of an owner whose process may not read its host name (`--allow-sys=hostname`). */
export const UNKNOWN_HOST = "unknown-host";

/**
 * The host name, or {@linkcode UNKNOWN_HOST} when the process may not read
 * it; followed by the process-id namespace when it is not the machine's own
 * (`vm (pid namespace 4026532175)`). Containers may share a host name
 * (`network_mode: host`, a fixed `hostname:`, `hostNetwork` pods) but never
 * their pids: named by the host alone, a worker in one container found the
 * pid of a worker in the other missing from its `/proc` and failed its live
 * runs as dead. With the namespace, owners of another container are judged
 * by their leases only.
 */
function hostName(): string {
  let name: string;
  try {
    name = Deno.hostname() || UNKNOWN_HOST;
  } catch {
    return UNKNOWN_HOST;
  }
  if (name === UNKNOWN_HOST) return name;
  const space = pidNamespace();
  return space === undefined || space === INIT_PID_NAMESPACE
    ? name
    : `${name} (pid namespace ${space})`;
}

/** The machine's own pid namespace: its inode is fixed by the kernel (`PROC_PID_INIT_INO`). */
const INIT_PID_NAMESPACE = "4026531836";

/**
 * This process's pid namespace (the inode in `pid:[N]`), or `undefined` when
 * it cannot be told (not Linux, or neither `/proc/self/ns/pid` nor the
 * `readlink` program may be used). Deno grants `/proc/self/ns` only with
 * `-A`; the least-privilege tasks run `readlink` instead (a child shares
 * this process's pid namespace).
 */
function pidNamespace(): string | undefined {
  let link: string | undefined;
  try {
    link = Deno.readLinkSync("/proc/self/ns/pid");
  } catch {
    try {
      if (Deno.permissions.querySync({ name: "run", command: "readlink" }).state === "granted") {
        const out = new Deno.Command("readlink", {
          args: ["/proc/self/ns/pid"],
          stdout: "piped",
          stderr: "null",
        }).outputSync();
        if (out.success) link = new TextDecoder().decode(out.stdout).trim();
      }
    } catch {
      // No readlink program: cannot tell.
    }
  }
  return link === undefined ? undefined : /^pid:\[(\d+)\]$/.exec(link)?.[1];
}

/** How {@linkcode isGoneHere} looks at this machine; tests pass their own. */
export interface HostView {
  /** This process. */
  readonly self: RunOwner;
  /** Whether a process with this pid exists on this host; `undefined` when it cannot tell. */
  readonly pidExists: (pid: number) => boolean | undefined;
}

/** This host, as seen through `/proc` (Linux); elsewhere nothing can be told. */
export function thisHost(): HostView {
  return { self: processOwner(), pidExists: procPidExists };
}

function procPidExists(pid: number): boolean | undefined {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      try {
        Deno.statSync("/proc/self");
        return false;
      } catch {
        // No /proc, or reads outside the grants read as missing (`--ignore-read`).
      }
    }
    return killZeroExists(pid);
  }
}

/**
 * `kill -0 PID` where this process may run `kill` and nothing else tells:
 * the least-privilege tasks are not granted `/proc` (its `self/environ` would
 * hand every variable to any dependency), so without this a process killed
 * on this host would only be known dead once its lease lapsed.
 */
function killZeroExists(pid: number): boolean | undefined {
  if (Deno.permissions.querySync({ name: "run", command: "kill" }).state !== "granted") {
    return undefined;
  }
  try {
    const out = new Deno.Command("kill", {
      args: ["-0", String(pid)],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (out.success) return true;
    return /no such process/i.test(new TextDecoder().decode(out.stderr)) ? false : undefined;
  } catch {
    return undefined; // no `kill` program here: cannot tell
  }
}

/**
 * Whether `owner` is certainly gone, judging from this host alone: it ran on
 * this host, and its pid is this process's under another instance id (so its
 * process ended and the pid was reused, as for pid 1 in a restarted
 * container) or no process has its pid any more. Anything else (another host,
 * a pid that exists, no way to tell) is left to its heartbeat lease.
 *
 * @example
 * ```ts
 * import { isGoneHere } from "./owner.ts";
 * const self = { instanceId: "now", host: "h", pid: 1 };
 * const view = { self, pidExists: () => true };
 * isGoneHere({ instanceId: "before", host: "h", pid: 1 }, view); // true: pid 1 is us now
 * isGoneHere({ instanceId: "x", host: "other", pid: 9 }, view); // false: another machine
 * ```
 */
export function isGoneHere(owner: RunOwner, view: HostView = thisHost()): boolean {
  // Two machines that cannot read their names look alike: only leases tell there.
  if (owner.host === UNKNOWN_HOST) return false;
  if (owner.host !== view.self.host || owner.instanceId === view.self.instanceId) return false;
  if (owner.pid === view.self.pid) return true;
  return view.pidExists(owner.pid) === false;
}

/** Who holds a claim in the run store (a tick or a launch): a daemon, since when, its process. */
export interface ClaimHolder {
  /** The daemon's id. */
  readonly daemon: string;
  /** When it claimed, ms (`NaN` when unreadable). */
  readonly at: number;
  /** Its process, to tell at once when it is gone from this host (absent in old claims). */
  readonly owner: RunOwner | undefined;
}

/** Writes a claim holder: the daemon, when, and its process (host, pid, instance). */
export function claimHolderText(daemon: string, at: number, owner: RunOwner): string {
  return JSON.stringify({ daemon, at, owner });
}

/**
 * Reads a claim holder written by {@linkcode claimHolderText}; `daemon@time`
 * is how claims were written before they carried their process.
 *
 * @example
 * ```ts
 * import { claimHolderText, parseClaimHolder } from "./owner.ts";
 * const owner = { instanceId: "i", host: "h", pid: 7 };
 * parseClaimHolder(claimHolderText("d1", 5, owner)); // { daemon: "d1", at: 5, owner }
 * parseClaimHolder("d1@5").owner; // undefined
 * ```
 */
export function parseClaimHolder(text: string): ClaimHolder {
  if (text.startsWith("{")) {
    try {
      const raw = JSON.parse(text) as Record<string, unknown>;
      const o = raw.owner as Record<string, unknown> | undefined;
      const owner = o && typeof o.instanceId === "string" && typeof o.host === "string" &&
          typeof o.pid === "number"
        ? { instanceId: o.instanceId, host: o.host, pid: o.pid }
        : undefined;
      return { daemon: String(raw.daemon ?? ""), at: Number(raw.at), owner };
    } catch {
      return { daemon: "", at: Number.NaN, owner: undefined };
    }
  }
  const at = text.lastIndexOf("@");
  return { daemon: text.slice(0, at), at: Number(text.slice(at + 1)), owner: undefined };
}
