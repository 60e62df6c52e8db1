/**
 * What the reliability tests share (issue 15, "Proof"): their seeded random
 * source, how many cases each runs, and the one line each prints with its
 * counts.
 *
 * **Counts.** Each reliability test ends with one line
 *
 *     RELIABILITY <name>: tried=N handled=N lost=N leaked=N (seed S; ...)
 *
 * `tried` = faults injected or inputs fed, `handled` = those that ended in
 * the state the design promises, `lost` = work that vanished or got stuck (a
 * run left `running`, a batch neither done nor quarantined, a valid input not
 * published, a hang), `leaked` = what came out that should not have (a
 * duplicate row, an object without lineage, an invalid input published, a
 * spurious report, a secret in an output). The line is printed whatever the
 * outcome, before the test's assertions, and recorded for the summary that
 * `deno task test` prints last (`tests/_helpers/run_tests.ts`).
 *
 * **How many.** A small seeded sample by default (a newcomer's
 * `deno task test`, and the README test with native tools hidden), the
 * counts issue 15 asks for under `CI=true` where they fit the CI budget
 * (measured on 2 cores at load 14-30: 2 daemons x 100 manifests with one
 * killed 131 s, 200 fuzz cases 217-252 s, 8 kill points 700 s, 8 server
 * faults 70 s; CI's own machine ran 3 kill points in 41 s), and the long
 * soak with
 * `RELIABILITY_SOAK=1`; any count can be set alone:
 *
 * | variable                      | default | CI=true | RELIABILITY_SOAK=1 |
 * | ----------------------------- | ------- | ------- | ------------------ |
 * | `RELIABILITY_KILL_POINTS`     | 3       | 20      | 24                 |
 * | `RELIABILITY_MANIFESTS`       | 10      | 100     | 200                |
 * | `RELIABILITY_FUZZ_CASES`      | 40      | 200     | 400                |
 * | `RELIABILITY_SERVER_FAULTS`   | 2       | 8       | 8                  |
 * | `RELIABILITY_QUEUE_FAULTS`    | 6       | 6       | 24                 |
 * | `RELIABILITY_FUZZ_RUNS`       | 2       | 2       | 12                 |
 * | `RELIABILITY_SEED`            | 15      | 15      | time of day        |
 *
 * (`RELIABILITY_QUEUE_FAULTS` is read by tests/reliability/queue_faults_test.ts
 * itself: one round of its six fault kinds, within the 60 s a test file gets;
 * `RELIABILITY_FUZZ_RUNS`, the kills at random moments of
 * tests/reliability/random_kill_test.ts, likewise.)
 *
 * The seed is printed with every count line, so a failure found by a soak is
 * replayed with `RELIABILITY_SEED=<seed>`.
 *
 * @module
 */

/** A seeded source of randomness (mulberry32): the same seed gives the same cases. */
export class Random {
  #state: number;

  /** A generator starting from `seed` (any integer). */
  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A number in [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of `items` (which must not be empty). */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty list");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A shuffled copy of `items`. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** An independent generator for a sub-task, so adding cases elsewhere does not shift this one. */
  fork(label: string): Random {
    let h = this.seed ^ 0x9e3779b9;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    return new Random(h >>> 0);
  }
}

/** How many cases each reliability test runs, and from which seed. */
export interface ReliabilitySettings {
  /** `default`, `ci` or `soak`: which column of the table in the module doc applied. */
  readonly profile: "default" | "ci" | "soak";
  /** Kill -9 points of the kill sweep. */
  readonly killPoints: number;
  /** Manifests committed in the two-daemon test. */
  readonly manifests: number;
  /** Cases of the fuzz corpus. */
  readonly fuzzCases: number;
  /** PostgreSQL restarts of the server-fault test. */
  readonly serverFaults: number;
  /** Seed of every generator. */
  readonly seed: number;
}

const PROFILES = {
  // default: a small seeded sample; CI: issue 15's counts where they fit the CI budget (module
  // doc); soak: beyond them, from a new seed each time.
  default: { killPoints: 3, manifests: 10, fuzzCases: 40, serverFaults: 2 },
  ci: { killPoints: 20, manifests: 100, fuzzCases: 200, serverFaults: 8 },
  soak: { killPoints: 24, manifests: 200, fuzzCases: 400, serverFaults: 8 },
} as const;

/** The default seed of the default and CI profiles. */
export const DEFAULT_SEED = 15;

/**
 * The settings from the environment (see the module doc). A count that is
 * not a whole number ≥ 1 throws, naming the variable: a typo must not run a
 * silently smaller suite.
 */
export function reliabilitySettings(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): ReliabilitySettings {
  const flag = (name: string) => /^(1|true|yes)$/i.test(env[name]?.trim() ?? "");
  const profile = flag("RELIABILITY_SOAK") ? "soak" : flag("CI") ? "ci" : "default";
  const base = PROFILES[profile];
  const count = (name: string, fallback: number, min = 1) => {
    const text = env[name]?.trim();
    if (text === undefined || text === "") return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`${name} must be a whole number >= ${min}, got '${text}'`);
    }
    return value;
  };
  return {
    profile,
    killPoints: count("RELIABILITY_KILL_POINTS", base.killPoints),
    manifests: count("RELIABILITY_MANIFESTS", base.manifests),
    fuzzCases: count("RELIABILITY_FUZZ_CASES", base.fuzzCases),
    serverFaults: count("RELIABILITY_SERVER_FAULTS", base.serverFaults),
    seed: count(
      "RELIABILITY_SEED",
      profile === "soak" ? Date.now() % 1_000_000_007 : DEFAULT_SEED,
      0,
    ),
  };
}

/** The counts a reliability test prints (see the module doc for their meaning). */
export interface ReliabilityCounts {
  readonly tried: number;
  readonly handled: number;
  readonly lost: number;
  readonly leaked: number;
}

/** Environment variable naming the runner's scratch folder (shared with the skip records). */
export const RELIABILITY_LOG_ENV = "TEST_SKIP_LOG";
/** File name, in that folder, of the JSON lines count records. */
export const RELIABILITY_LOG_FILE = "reliability.jsonl";

/** One count line, as recorded for the runner's summary. */
export interface ReliabilityRecord extends ReliabilityCounts {
  readonly name: string;
  readonly seed: number;
  readonly detail: string;
}

/** The count line of a record: `RELIABILITY name: tried=.. handled=.. lost=.. leaked=.. (...)`. */
export function countLine(record: ReliabilityRecord): string {
  const detail = record.detail ? `; ${record.detail}` : "";
  return `RELIABILITY ${record.name}: tried=${record.tried} handled=${record.handled} ` +
    `lost=${record.lost} leaked=${record.leaked} (seed ${record.seed}${detail})`;
}

/**
 * Prints the count line of a reliability test and records it for the
 * runner's summary. Call it before asserting, so a failing run still shows
 * its counts.
 */
export async function reportCounts(
  name: string,
  counts: ReliabilityCounts,
  options: { seed: number; detail?: string },
): Promise<void> {
  const record: ReliabilityRecord = {
    name,
    ...counts,
    seed: options.seed,
    detail: options.detail ?? "",
  };
  console.log(countLine(record));
  const folder = Deno.env.get(RELIABILITY_LOG_ENV);
  if (folder) {
    await Deno.writeTextFile(`${folder}/${RELIABILITY_LOG_FILE}`, `${JSON.stringify(record)}\n`, {
      append: true,
    });
  }
}
