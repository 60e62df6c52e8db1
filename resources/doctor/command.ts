/**
 * The `doctor` CLI command: prints each resource's implementation, whether it
 * answers and its latency; exits 1 if any does not.
 *
 * @module
 */

import { type CliCommand, EXIT, UsageError } from "../../core/cli/app.ts";
import type { CliIo } from "../../core/cli/io.ts";
import { table } from "../../core/cli/table.ts";
import { parseCommandArgs, wholeNumberOption } from "../../core/cli/_args.ts";
import { toError } from "../../core/errors.ts";
import type { Config } from "../config.ts";
import { diagnose, type Diagnosis } from "./diagnose.ts";

const USAGE = "usage: doctor [--json] [--timeout MS]";

/** What `doctor --help` prints: the usage line alone said neither what it checks nor its exits. */
const HELP = `Usage: doctor [--json] [--timeout MS]

Opens every resource the configuration names (lake, ledger, warehouse, spatial,
GDAL, run store) and prints its implementation, URL (password hidden), whether
it answers and how fast.

Options:
  --json         one JSON object per resource
  --timeout MS   how long each resource gets to answer (default: 10000)
  -h, --help     show this help

Exit status: 0 every resource answers, 1 one does not (named on stderr with
what to do), 2 usage error.
`;

/** The `doctor` command for the configuration `loadConfig` returns. */
export function doctorCommand(loadConfig: () => Config): CliCommand {
  return {
    summary: "check that every configured resource answers (implementation, latency)",
    async run(args: readonly string[], io: CliIo): Promise<number> {
      const parsed = parseArgs(args);
      if (parsed === "help") {
        io.out(HELP);
        return EXIT.ok;
      }
      const { json, timeoutMs } = parsed;
      const report = await diagnose(loadConfig(), {
        timeoutMs,
        onProgress: (message) => io.err(`${message}\n`),
      });
      io.out(json ? report.map((d) => JSON.stringify(d)).join("\n") + "\n" : render(report));
      const down = report.filter((d) => !d.ok);
      if (down.length > 0) {
        // The table cuts each error to its column; the whole message (the part saying
        // what to do is often at its end) is here.
        io.err(
          `${down.length} resource(s) did not answer: ${down.map((d) => d.resource).join(", ")}\n` +
            down.map((d) => `  ${d.resource}: ${d.error ?? "no answer"}\n`).join(""),
        );
        return EXIT.failed;
      }
      return EXIT.ok;
    },
  };
}

function parseArgs(args: readonly string[]): { json: boolean; timeoutMs: number } | "help" {
  // parseCommandArgs: `--timeout=5000`, a suggestion for a misspelt option, and a value
  // option given twice refused (the hand-written loop kept the last, and took --help as
  // a usage error, exit 2).
  const { values } = parseCommandArgs("doctor", {
    args: [...args],
    options: {
      json: { type: "boolean" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  let timeoutMs = 10_000;
  if (values.timeout !== undefined) {
    try {
      // Decimal digits only (Number() took 0x10 as 16), at most what setTimeout waits.
      timeoutMs = wholeNumberOption("--timeout", values.timeout, 1, 2_147_483_647);
    } catch (error) {
      throw new UsageError(`${toError(error).message} (milliseconds)\n${USAGE}`);
    }
  }
  return { json: values.json ?? false, timeoutMs };
}

function render(report: readonly Diagnosis[]): string {
  const details = report.filter((d) => d.detail !== null)
    .map((d) => `${d.resource}: ${d.detail}\n`).join("");
  return table(
    ["resource", "implementation", "url", "status", "latency", "error"],
    report.map((d) => [
      d.resource,
      d.implementation,
      d.url,
      d.ok ? "ok" : "DOWN",
      `${d.latencyMs} ms`,
      d.error ?? "",
    ]),
    80,
  ) + details;
}
