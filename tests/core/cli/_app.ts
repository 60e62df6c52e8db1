/**
 * Helpers for the CLI tests: a project made of a small graph and an in-memory
 * run store, and a way to run one command line against it.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AssetDefinition } from "../../../core/asset.ts";
import { type CliApp, EXIT, memoryIo, runCli, type RunCliOptions } from "../../../core/cli/mod.ts";
import { defineGraph, type GraphSpec } from "../../../core/definitions.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";

export { EXIT };

/** A project over `assets` with a memory run store that counts how often the CLI closed it. */
export function testApp(
  assets: readonly AssetDefinition[],
  spec: Omit<GraphSpec<Record<string, unknown>>, "assets"> = {},
) {
  const store = new MemoryRunStore();
  const graph = defineGraph<Record<string, unknown>>({ ...spec, assets });
  const opened = { count: 0, closed: 0 };
  const app: CliApp<Record<string, unknown>> = {
    name: "platform",
    loadGraph: () => Promise.resolve(graph),
    openRunStore: () => {
      opened.count++;
      // The same store every time, so one command sees what an earlier one recorded;
      // closing it is only counted.
      const view = new Proxy(store, {
        get(target, property) {
          if (property === Symbol.asyncDispose) {
            return () => {
              opened.closed++;
              return Promise.resolve();
            };
          }
          const value: unknown = Reflect.get(target, property);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      return Promise.resolve(view);
    },
  };
  return { app, store, graph, opened };
}

/** What one command line printed and returned. */
export interface CliOutcome {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs `args` against `app`, on a fake terminal when `isTerminal`. */
export async function cli(
  app: CliApp<Record<string, unknown>>,
  args: readonly string[],
  options: RunCliOptions & { isTerminal?: boolean } = {},
): Promise<CliOutcome> {
  const io = memoryIo({ isTerminal: options.isTerminal ?? false });
  const code = await runCli(args, app, io, options.signal ? { signal: options.signal } : {});
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** Asserts the exit code, showing both streams when it differs. */
export function assertExit(outcome: CliOutcome, code: number): void {
  assert.equal(
    outcome.code,
    code,
    `exit ${outcome.code}, expected ${code}\n--- stdout\n${outcome.stdout}\n--- stderr\n${outcome.stderr}`,
  );
}

/** Parses JSON lines, asserting every line is one JSON object. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const lines = text.split("\n");
  assert.equal(lines.pop(), "", "output must end with a newline");
  return lines.map((line, i) => {
    const value: unknown = JSON.parse(line);
    assert.ok(
      value !== null && typeof value === "object" && !Array.isArray(value),
      `line ${i + 1} is not an object: ${line}`,
    );
    return value as Record<string, unknown>;
  });
}

/** Polls `read()` until it matches `pattern` (every few ms, up to `timeoutMs`). */
export async function waitFor(
  read: () => string,
  pattern: RegExp,
  timeoutMs = 5_000,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = read().match(pattern);
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`timed out waiting for ${pattern} in:\n${read()}`);
}
