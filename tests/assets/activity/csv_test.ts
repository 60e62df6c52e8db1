import assert from "node:assert/strict";
import {
  type CsvRecord,
  InvalidUtf8Error,
  readCsv,
  RecordTooLongError,
} from "../../../assets/activity/_csv.ts";

const encoder = new TextEncoder();

/** A stream handing over `bytes` in pieces of `size` bytes (every split point gets exercised). */
function streamOf(bytes: Uint8Array, size = bytes.length || 1): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

async function read(
  input: string | Uint8Array,
  size?: number,
  maxRecordChars?: number,
): Promise<CsvRecord[]> {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const out: CsvRecord[] = [];
  const options = maxRecordChars === undefined ? {} : { maxRecordChars };
  for await (const batch of readCsv(streamOf(bytes, size), options)) out.push(...batch);
  return out;
}

const TRICKY = "Id,Note,Value\r\n" +
  "1,plain,10\r\n" +
  "\r\n" +
  '2,"with, comma",20\n' +
  '3,"say ""hi""",30\n' +
  '4,"two\nlines",40\n' +
  "5,,\n" +
  '6,"",60\n' +
  "7,é ü 日本,70";

const EXPECTED: CsvRecord[] = [
  { fields: ["Id", "Note", "Value"], line: 1 },
  { fields: ["1", "plain", "10"], line: 2 },
  { fields: ["2", "with, comma", "20"], line: 4 },
  { fields: ["3", 'say "hi"', "30"], line: 5 },
  { fields: ["4", "two\nlines", "40"], line: 6 },
  { fields: ["5", "", ""], line: 8 },
  { fields: ["6", "", "60"], line: 9 },
  { fields: ["7", "é ü 日本", "70"], line: 10 },
];

Deno.test("readCsv parses RFC 4180 with file lines, whatever the chunking", async (t) => {
  await t.step("in one chunk", async () => {
    assert.deepEqual(await read(TRICKY), EXPECTED);
  });
  await t.step("split at every byte boundary (including inside UTF-8 sequences)", async () => {
    for (const size of [1, 2, 3, 5, 7, 13]) assert.deepEqual(await read(TRICKY, size), EXPECTED);
  });
  await t.step("with a trailing newline and a UTF-8 BOM", async () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode(TRICKY + "\n")]);
    assert.deepEqual(await read(bom, 4), EXPECTED);
  });
});

Deno.test("readCsv flags bad quoting on the record instead of failing the file", async () => {
  const records = await read('a,b\n1,"x"y\n2,"never closed\n3,4\n');
  assert.deepEqual(records[1], {
    fields: ["1", "xy"],
    line: 2,
    malformed: "text follows a closing quote",
  });
  assert.deepEqual(records[2], {
    fields: ["2", "never closed\n3,4\n"],
    line: 3,
    malformed: "a quoted field is never closed",
  });
  assert.equal(records.length, 3);
});

Deno.test("readCsv rejects invalid UTF-8 with the byte offset and line", async (t) => {
  const text = encoder.encode("a,b\n1,2\n3,");
  const bytes = new Uint8Array([...text, 0xc3, 0x28, ...encoder.encode("\n")]);
  for (const size of [bytes.length, 3, 1]) {
    await t.step(`chunks of ${size} byte(s)`, async () => {
      const error = await read(bytes, size).then(() => undefined, (e) => e);
      assert.ok(error instanceof InvalidUtf8Error, String(error));
      assert.equal(error.line, 3);
      assert.equal(error.byteOffset, size === 1 ? text.length + 1 : text.length);
    });
  }
  await t.step("a sequence cut at the end of the file", async () => {
    const error = await read(new Uint8Array([...encoder.encode("a\n"), 0xe6, 0x97]), 1)
      .then(() => undefined, (e) => e);
    assert.ok(error instanceof InvalidUtf8Error);
  });
});

Deno.test("readCsv refuses a record longer than the limit (memory stays bounded)", async () => {
  const long = "a,b\n1," + "x".repeat(5000);
  const error = await read(long, 100, 1000).then(() => undefined, (e) => e);
  assert.ok(error instanceof RecordTooLongError);
  assert.equal(error.line, 2);
});

Deno.test("readCsv cancels the stream when the caller stops early", async () => {
  let canceled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(encoder.encode("a,b\n1,2\n"));
    },
    cancel() {
      canceled = true;
    },
  });
  for await (const _ of readCsv(body)) break;
  assert.equal(canceled, true);
});

Deno.test("readCsv reads files whose lines end in a lone CR (classic Mac), whatever the chunking", async () => {
  // TRICKY without its CRLF/LF line ends: every record ends in CR, a quoted field keeps one.
  const cr = 'Id,Note,Value\r1,plain,10\r\r2,"with, comma",20\r4,"two\rlines",40\r5,,\r7,x,70\r';
  const expected: CsvRecord[] = [
    { fields: ["Id", "Note", "Value"], line: 1 },
    { fields: ["1", "plain", "10"], line: 2 },
    { fields: ["2", "with, comma", "20"], line: 4 },
    { fields: ["4", "two\nlines", "40"], line: 5 },
    { fields: ["5", "", ""], line: 7 },
    { fields: ["7", "x", "70"], line: 8 },
  ];
  for (const size of [cr.length, 1, 2, 3, 13]) assert.deepEqual(await read(cr, size), expected);
  // A CRLF split between two chunks is not mistaken for a lone CR.
  assert.deepEqual(await read("a,b\r\n1,2\r\n", 4), [
    { fields: ["a", "b"], line: 1 },
    { fields: ["1", "2"], line: 2 },
  ]);
  // One line ending in CR at the very end of the file.
  assert.deepEqual(await read("a,b\r", 1), [{ fields: ["a", "b"], line: 1 }]);
});
