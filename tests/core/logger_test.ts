import assert from "node:assert/strict";
import { createLogger, formatLogLine, type LogRecord } from "../../core/logger.ts";

const at = Date.UTC(2026, 11, 6, 18, 0, 0);

Deno.test("formatLogLine: text lines carry time, padded level, message and the fields", () => {
  const records: LogRecord[] = [];
  const log = createLogger((record) => records.push(record), () => at);
  log.warn("run failed", { runId: "r1", attempt: 2 });
  log.info("idle");
  assert.equal(
    formatLogLine(records[0]!, false),
    '2026-12-06T18:00:00.000Z WARN  run failed {"runId":"r1","attempt":2}\n',
  );
  assert.equal(formatLogLine(records[1]!, false), "2026-12-06T18:00:00.000Z INFO  idle\n");
});

Deno.test("formatLogLine: --json gives one parseable object a line, fields at the top level", () => {
  const line = formatLogLine(
    { level: "error", message: 'quote " and\nnewline', fields: { asset: "a/b" }, time: at },
    true,
  );
  assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
  assert.deepEqual(JSON.parse(line), {
    time: "2026-12-06T18:00:00.000Z",
    level: "error",
    message: 'quote " and\nnewline',
    asset: "a/b",
  });
});
