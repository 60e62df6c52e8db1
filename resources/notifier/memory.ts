/**
 * The notifier twin for tests: keeps what it was sent, and fails on demand.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";
import type { Notification, Notifier } from "../../core/automation/notification.ts";

/** A notifier that records notifications in memory. */
export class MemoryNotifier implements Notifier {
  /** Name in records. */
  readonly name: string;
  /** Always `memory`. */
  readonly description = "memory";
  /** Every notification delivered, in order. */
  readonly sent: Notification[] = [];
  /** Attempts that fail before the next one succeeds (set by tests). */
  failures = 0;

  /** A twin named `name`. */
  constructor(name = "memory") {
    this.name = name;
  }

  /** Records `n`, or fails while `failures` is above zero. */
  send(n: Notification): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new ResourceError("notify.unreachable", "memory notifier is down"));
    }
    this.sent.push(n);
    return Promise.resolve();
  }
}
