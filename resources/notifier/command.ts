/**
 * The command hook: `exec:///path/to/hook?arg=--channel&arg=ops` runs the
 * program for each notification, with the notification as JSON on stdin and
 * its main fields in `NOTIFY_*` environment variables (event, title, summary,
 * run id, links). Exit 0 is delivered; anything else, or no exit within the
 * timeout (the program is then killed), is a failed attempt.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";
import {
  type Notification,
  notificationJson,
  type Notifier,
} from "../../core/automation/notification.ts";
import { describeNotifierUrl, scrubNotifier } from "./_secrets.ts";

/** Options of {@linkcode CommandNotifier}. */
export interface CommandOptions {
  /**
   * Name in records.
   * @default {"hook"}
   */
  readonly name?: string;
  /**
   * Longest run of the program (milliseconds).
   * @default {30000}
   */
  readonly timeoutMs?: number;
}

/** Runs a program per notification. */
export class CommandNotifier implements Notifier {
  /** Name in records. */
  readonly name: string;
  /** The program, secrets redacted. */
  readonly description: string;
  readonly #url: URL;
  readonly #program: string;
  readonly #args: string[];
  readonly #timeoutMs: number;

  /** A hook running the program of `url` (`exec:PATH?arg=...`). */
  constructor(url: string, options: CommandOptions = {}) {
    this.#url = new URL(url);
    if (this.#url.protocol !== "exec:") {
      throw new TypeError(`Cannot run notification hook '${describeNotifierUrl(url)}': not exec:`);
    }
    this.#program = decodeURIComponent(this.#url.pathname);
    if (!this.#program) {
      throw new ResourceError(
        "notify.invalid_url",
        `Cannot run notification hook '${describeNotifierUrl(url)}' (NOTIFY_URLS): no program path`,
        { input: "NOTIFY_URLS" },
      );
    }
    this.#args = this.#url.searchParams.getAll("arg");
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.name = options.name ?? "hook";
    this.description = `command ${this.#program}`;
  }

  /** Runs the program once for `n`. */
  async send(n: Notification, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.#program, {
        args: this.#args,
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
        env: {
          NOTIFY_ID: n.id,
          NOTIFY_EVENT: n.event,
          NOTIFY_TITLE: n.title,
          NOTIFY_SUMMARY: n.summary,
          NOTIFY_RUN_ID: n.runId ?? "",
          NOTIFY_ASSETS: n.assetKeys.join(","),
          NOTIFY_CLI: n.links.cli,
          NOTIFY_UI: n.links.ui ?? "",
        },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      }).spawn();
    } catch (error) {
      throw new ResourceError(
        "notify.unreachable",
        this.#scrub(
          `Cannot run ${this.description}: ${error instanceof Error ? error.message : error}`,
        ),
      );
    }
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(notificationJson(n)) + "\n"))
      .catch(() => {}); // a hook that does not read stdin is fine
    await writer.close().catch(() => {});
    const { code, stderr } = await child.output().catch(() => ({
      code: -1,
      stderr: new Uint8Array(),
    }));
    if (timeout.aborted) {
      throw new ResourceError(
        "notify.timeout",
        `Cannot run ${this.description}: it did not exit within ${this.#timeoutMs} ms and was killed`,
      );
    }
    if (code !== 0) {
      const tail = new TextDecoder().decode(stderr).trim().split("\n").slice(-3).join(" / ");
      throw new ResourceError(
        "notify.rejected",
        this.#scrub(
          `${this.description} exited with ${code}${tail ? `: ${tail.slice(0, 300)}` : ""}`,
        ),
      );
    }
  }

  #scrub(text: string): string {
    return scrubNotifier(text, this.#url);
  }
}
