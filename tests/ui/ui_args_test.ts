import assert from "node:assert/strict";
import { UsageError } from "../../core/cli/app.ts";
import { parseUiArgs, UI_USAGE } from "../../ui/serve.ts";

Deno.test("ui/dev: a malformed --port or --host is a usage error naming the flag", () => {
  // Before: Number() took '' as 0 (any free port), '0x10' as 16, '1e3' as 1000, and
  // --host 'bad host' went on to ask for UI_TOKEN instead of naming the bad host.
  for (const port of ["", " ", "0x10", "1e3", "80.0", "-1", "abc", "65536"]) {
    assert.throws(
      () => parseUiArgs([`--port=${port}`]),
      (e: unknown) => e instanceof UsageError && /--port must be a whole number/.test(e.message),
      port,
    );
  }
  for (const host of ["bad host", "http://x", "a/b", "[::1"]) {
    assert.throws(
      () => parseUiArgs(["--host", host]),
      (e: unknown) => e instanceof UsageError && e.message.includes(`got '${host}'`),
      host,
    );
  }
  for (
    const [args, host, port] of [
      [["--port", "0"], "127.0.0.1", 0],
      [["--port=8080", "--host", "0.0.0.0"], "0.0.0.0", 8080],
      [["--host", "::1"], "::1", 3000],
      [["--host", "ui.internal-1.example"], "ui.internal-1.example", 3000],
    ] as const
  ) {
    const parsed = parseUiArgs([...args]);
    assert.ok(parsed !== "help");
    assert.equal(parsed.host, host);
    assert.equal(parsed.port, port);
  }
});

Deno.test("ui/dev: --interval in hexadecimal, exponent or too large is a usage error", () => {
  // Before: Number() took '0x10' as 16 ms and '1e3' as 1000 ms and the UI started.
  for (const interval of ["0x10", "1e3", " ", "99999999999999999999"]) {
    assert.throws(
      () => parseUiArgs([`--interval=${interval}`], "dev"),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message === `--interval must be a whole number >= 1, got '${interval}'`,
      interval,
    );
  }
  const parsed = parseUiArgs(["--interval", "250"], "dev");
  assert.ok(parsed !== "help");
  assert.equal(parsed.intervalMs, 250);
});

Deno.test("ui/dev: a usage error names the command typed; --interval is dev's only", () => {
  // Before: `dev --typo` said "for ui; 'ui --help' ...", and `ui --interval 250` was ignored.
  assert.throws(
    () => parseUiArgs(["--prot", "3000"], "dev"),
    (e: unknown) =>
      e instanceof UsageError &&
      /^Unknown option '--prot' for dev \(did you mean '--port'\?\); 'dev --help'/.test(e.message),
  );
  assert.throws(
    () => parseUiArgs(["--interval", "250"], "ui"),
    (e: unknown) =>
      e instanceof UsageError && /--interval .* applies to dev, not ui/.test(e.message),
  );
});

Deno.test("ui/dev: --port or --host given twice exits as a usage error naming both values", () => {
  // Before: the last one was kept silently.
  assert.throws(
    () => parseUiArgs(["--port", "3000", "--port=3001"]),
    /--port is given twice \('3000', then '3001'\)/,
  );
  assert.throws(
    () => parseUiArgs(["--host", "127.0.0.1", "--host", "0.0.0.0"]),
    /--host is given twice/,
  );
});

Deno.test("ui/dev --help: says the exit statuses, as every other command's help does", () => {
  assert.equal(parseUiArgs(["--help"], "dev"), "help");
  assert.match(UI_USAGE, /Exit status: 0 stopped, 1 failure, 2 usage or configuration error/);
});
