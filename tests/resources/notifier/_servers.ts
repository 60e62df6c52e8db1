/**
 * Loopback servers the notifier tests deliver to: an HTTP twin of a webhook
 * endpoint (answers scripted per request) and a real SMTP server
 * (npm:smtp-server) that requires STARTTLS with our test certificate and
 * AUTH, and keeps every message it accepts.
 *
 * @module
 */

import { SMTPServer } from "smtp-server";

const FIXTURES = new URL("../../fixtures/notifier/", import.meta.url);
/** The test certificate (also the CA that trusts it). */
export const CERT_PATH = new URL("smtp_cert.pem", FIXTURES).pathname;
const KEY_PATH = new URL("smtp_key.pem", FIXTURES).pathname;

/** A webhook endpoint on loopback. */
export interface WebhookTwin extends AsyncDisposable {
  /** Its URL (`http://127.0.0.1:PORT/hooks/SECRET-TOKEN`). */
  readonly url: string;
  /** Bodies received (parsed JSON), in order, including those answered with an error. */
  readonly received: unknown[];
  /** The `idempotency-key` header of each request, in order. */
  readonly keys: (string | null)[];
  /** Status codes to answer, in order; 200 once they run out. */
  readonly script: number[];
}

/** Starts a webhook twin; `script` lists the statuses of the first answers. */
export function startWebhook(script: number[] = []): WebhookTwin {
  const received: unknown[] = [];
  const keys: (string | null)[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      keys.push(request.headers.get("idempotency-key"));
      received.push(await request.json());
      const status = script.shift() ?? 200;
      return new Response(status === 200 ? "ok" : "no_service", { status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks/T000-SECRET-TOKEN`,
    received,
    keys,
    script,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A message the SMTP server accepted. */
export interface Mail {
  /** Envelope sender. */
  readonly from: string;
  /** Envelope recipients. */
  readonly to: string[];
  /** The user who authenticated. */
  readonly user: string | undefined;
  /** Whether the session had upgraded to TLS. */
  readonly secure: boolean;
  /** The raw message (headers and body). */
  readonly raw: string;
}

/** A real SMTP server on loopback. */
export interface SmtpTwin extends AsyncDisposable {
  /** Port. */
  readonly port: number;
  /** Messages accepted, in order. */
  readonly mails: Mail[];
  /** Attempts refused (while `down` > 0), counted. */
  readonly refused: number;
  /** Sessions to refuse at MAIL FROM before accepting again (set by tests). */
  down: number;
}

/** Starts an SMTP server requiring STARTTLS and AUTH (`alerts` / `s3cret-pass`). */
export async function startSmtp(): Promise<SmtpTwin> {
  const mails: Mail[] = [];
  const twin = { down: 0, refused: 0 };
  const server = new SMTPServer({
    key: Deno.readTextFileSync(KEY_PATH),
    cert: Deno.readTextFileSync(CERT_PATH),
    authMethods: ["PLAIN", "LOGIN"],
    // Refuse AUTH before STARTTLS, as real submission servers do.
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === "alerts" && auth.password === "s3cret-pass") {
        return callback(null, { user: auth.username });
      }
      callback(new Error("Invalid username or password"));
    },
    onMailFrom(_address, _session, callback) {
      if (twin.down > 0) {
        twin.down--;
        twin.refused++;
        const error = new Error("Service unavailable, try later") as Error & {
          responseCode: number;
        };
        error.responseCode = 421;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Uint8Array[] = [];
      stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          secure: session.secure,
          raw: new TextDecoder().decode(concat(chunks)),
        });
        callback();
      });
    },
  });
  // A client that rejects our certificate ends the TLS handshake with an
  // alert: the server reports it as an error event, which is expected here.
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    mails,
    get refused() {
      return twin.refused;
    },
    get down() {
      return twin.down;
    },
    set down(value: number) {
      twin.down = value;
    },
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
