/**
 * The GDAL host: a small process that loads libgdal once (`_gdal_ffi.ts`)
 * and serves the native engine's calls, one at a time, as JSON lines:
 *
 * - on start it prints `{"ready":{"version":"3.6.2","library":"..."}}`, or
 *   `{"fatal":"..."}` and exits 1 when libgdal cannot be loaded;
 * - then, per line on stdin `{"id":1,"op":"vectorInfo","args":[...]}`, one
 *   line on stdout `{"id":1,"ok":RESULT}` or
 *   `{"id":1,"error":{"messages":[...]},"warnings":[...]}`;
 * - it exits when stdin closes (its parent ended, however it ended).
 *
 * Started by `gdal_native.ts` as `deno run --allow-ffi --allow-read
 * --allow-write --allow-env _gdal_host.ts`.
 *
 * @module
 */

import { GdalCallError, GdalLibrary } from "./_gdal_ffi.ts";

interface Request {
  id: number;
  op: string;
  args: unknown[];
}

const encoder = new TextEncoder();

function send(message: unknown): void {
  // Lines start with a marker so that anything else a library prints is never taken for a reply.
  const bytes = encoder.encode(`\u001e${JSON.stringify(message)}\n`);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

function dispatch(gdal: GdalLibrary, request: Request): unknown {
  const a = request.args;
  const strings = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  switch (request.op) {
    case "crsInfo":
      return gdal.crsInfo(String(a[0]));
    case "vectorInfo":
      return gdal.vectorInfo(
        String(a[0]),
        strings(a[1]),
        a[2] === undefined || a[2] === null ? undefined : String(a[2]),
        strings(a[3]),
      );
    case "rasterInfo":
      return gdal.rasterInfo(String(a[0]), strings(a[1]), strings(a[2]));
    case "vectorTranslate":
      gdal.withConfig(
        (a[5] ?? {}) as Record<string, string>,
        () =>
          gdal.vectorTranslate(
            String(a[0]),
            strings(a[1]),
            String(a[2]),
            strings(a[3]),
            strings(a[4]),
            strings(a[6]),
          ),
      );
      return true;
    case "arrowDump":
      return gdal.arrowDump(
        String(a[0]),
        String(a[1]),
        String(a[2]),
        strings(a[3]),
        strings(a[4]),
      );
    case "translate":
      gdal.translate(String(a[0]), strings(a[1]), String(a[2]), strings(a[3]));
      return true;
    case "warp":
      gdal.warp(String(a[0]), strings(a[1]), String(a[2]), strings(a[3]));
      return true;
    default:
      throw new GdalCallError(`Unknown operation '${request.op}'`, []);
  }
}

async function main(): Promise<void> {
  let gdal: GdalLibrary;
  try {
    gdal = new GdalLibrary();
  } catch (error) {
    send({ fatal: error instanceof Error ? error.message : String(error) });
    Deno.exit(1);
  }
  send({ ready: { version: gdal.version(), library: gdal.path } });
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() === "") continue;
      let request: Request;
      try {
        request = JSON.parse(line) as Request;
      } catch {
        continue; // Not a request: nothing to answer.
      }
      try {
        const ok = dispatch(gdal, request);
        send({ id: request.id, ok, warnings: gdal.warnings(), errors: gdal.errors() });
      } catch (error) {
        const messages = error instanceof GdalCallError
          ? error.messages
          : [error instanceof Error ? error.message : String(error)];
        send({ id: request.id, error: { messages }, warnings: gdal.warnings() });
      }
    }
  }
}

if (import.meta.main) await main();
