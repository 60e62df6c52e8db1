/**
 * Live progress view for a terminal: counts by status and the steps running
 * now with their elapsed time, redrawn in place; then a summary table.
 *
 * @module
 */

import { type Clock, systemClock } from "../clock.ts";
import type { RunResult, StepResult } from "../executor.ts";
import type { RunEvent } from "../run_store/types.ts";
import type { CliIo } from "./io.ts";
import { formatDuration, table } from "./table.ts";

const SHOWN_RUNNING = 8;

type DoneStatus = "success" | "failed" | "skipped" | "canceled";

/** Redraws a progress frame as events arrive. */
export class ProgressView {
  #io: CliIo;
  #clock: Clock;
  #total = 0;
  #started: number;
  #running = new Map<string, number>();
  #done: Record<DoneStatus, number> = { success: 0, failed: 0, skipped: 0, canceled: 0 };
  #lines = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A view writing to `io`, timing with `clock`. */
  constructor(io: CliIo, clock: Clock = systemClock) {
    this.#io = io;
    this.#clock = clock;
    this.#started = clock.now();
  }

  /** Starts redrawing every 100 ms. */
  start(): void {
    this.#timer = setInterval(() => this.#draw(), 100);
  }

  /** Updates the view with one event. */
  onEvent(event: RunEvent): void {
    const id = event.partition === null
      ? String(event.assetKey)
      : `${event.assetKey}[${event.partition}]`;
    switch (event.type) {
      case "run_started":
        this.#total = Number(event.data.steps ?? 0);
        break;
      case "step_started":
        this.#running.set(id, event.time);
        break;
      case "step_success":
      case "step_failed":
      case "step_skipped":
      case "step_canceled":
        this.#running.delete(id);
        this.#done[event.type.slice(5) as DoneStatus]++;
        break;
      case "log":
        if (event.data.level === "warn" || event.data.level === "error") {
          this.#print(
            `${String(event.data.level)}  ${id === "null" ? "" : `${id}: `}${
              String(event.data.message)
            }\n`,
          );
        }
        break;
    }
  }

  /** Stops redrawing and clears the frame. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clear();
  }

  #print(text: string): void {
    this.#clear();
    this.#io.out(text);
    this.#draw();
  }

  #clear(): void {
    if (this.#lines > 0) this.#io.out(`\x1b[${this.#lines}A\x1b[J`);
    this.#lines = 0;
  }

  #draw(): void {
    const finished = Object.values(this.#done).reduce((a, b) => a + b, 0);
    const pending = Math.max(0, this.#total - finished - this.#running.size);
    const { success, failed, skipped, canceled } = this.#done;
    const now = this.#clock.now();
    const lines = [
      `${finished}/${this.#total} · ${pending} pending · ${this.#running.size} running · ${success} done · ` +
      `${failed} failed · ${skipped} skipped${canceled ? ` · ${canceled} canceled` : ""} · ${
        formatDuration(now - this.#started)
      }`,
      ...[...this.#running].slice(0, SHOWN_RUNNING).map(([id, since]) =>
        `  ▸ ${id}  ${formatDuration(now - since)}`
      ),
    ];
    if (this.#running.size > SHOWN_RUNNING) {
      lines.push(`  … and ${this.#running.size - SHOWN_RUNNING} more`);
    }
    this.#clear();
    this.#io.out(lines.map((line) => line.slice(0, this.#io.columns - 1)).join("\n") + "\n");
    this.#lines = lines.length;
  }
}

const SUMMARY_ROWS = 40;

/** The table printed at the end of a run: problems first, then the rest, then totals. */
export function summaryTable(result: RunResult): string {
  const order = { failed: 0, canceled: 1, skipped: 2, success: 3 };
  const steps = [...result.steps].sort((a, b) => order[a.status] - order[b.status]);
  const rows = steps.slice(0, SUMMARY_ROWS).map(summaryRow);
  const more = steps.length > SUMMARY_ROWS ? `… ${steps.length - SUMMARY_ROWS} more steps\n` : "";
  return table(["asset", "partition", "status", "attempts", "duration", "note"], rows) + more;
}

function summaryRow(step: StepResult): string[] {
  const failedChecks = step.checks.filter((c) => !c.passed).map((c) =>
    `check ${c.name} ${c.severity === "warn" ? "warned" : "failed"}`
  );
  const checks = step.checks.length > 0
    ? `${step.checks.filter((c) => c.passed).length}/${step.checks.length} checks`
    : "";
  const note = [step.reason ?? "", ...failedChecks, failedChecks.length ? "" : checks].filter(
    Boolean,
  ).join("; ");
  return [
    step.assetKey,
    step.partition ?? "-",
    step.status,
    String(step.attempts),
    formatDuration(step.durationMs),
    note,
  ];
}
