/**
 * Preloaded into `deno test` by `deno task test` (run_tests.ts): records each
 * place that assigns `obj.__proto__ = ...`. Deno disables that accessor (the
 * assignment silently makes an own property instead of changing the
 * prototype) and then adds an "assigned to Object.prototype.__proto__" note to
 * every error the process prints, so a dependency doing it both misbehaves and
 * clutters test output (issue 16 item 4). The records (one JSON line per
 * distinct call site, with the stack) go to the file `PROTO_GUARD_LOG` names;
 * run_tests.ts lists them and fails the run. Behaviour is unchanged: the
 * original setter still runs.
 *
 * @module
 */

/** Variable naming the file the records are appended to. */
export const PROTO_GUARD_ENV = "PROTO_GUARD_LOG";

const descriptor = Object.getOwnPropertyDescriptor(Object.prototype, "__proto__");
const log = Deno.env.get(PROTO_GUARD_ENV);
if (descriptor?.set && log) {
  const original = descriptor.set;
  const seen = new Set<string>();
  Object.defineProperty(Object.prototype, "__proto__", {
    ...descriptor,
    set(this: unknown, value: unknown) {
      const stack = (new Error().stack ?? "").split("\n").slice(2, 10).map((l) => l.trim());
      const site = stack[0] ?? "?";
      if (!seen.has(site)) {
        seen.add(site);
        Deno.writeTextFileSync(log, JSON.stringify({ site, stack }) + "\n", { append: true });
      }
      original.call(this, value);
    },
  });
}
