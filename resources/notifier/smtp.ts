/**
 * Email notifications over SMTP through nodemailer (a well-kept library: the
 * protocol, STARTTLS, AUTH and MIME are not ours to write).
 *
 * `smtp://USER:PASSWORD@HOST:587?from=alerts@example.com&to=a@example.com,b@example.com`
 * upgrades with STARTTLS and refuses a server that cannot (`starttls=required`,
 * the default; `starttls=auto` upgrades when offered, `starttls=off` never);
 * `smtps://...:465` speaks TLS from the start. `ca=/path/ca.pem` trusts a
 * private certificate authority. Credentials are optional (relays on a
 * private network take none).
 *
 * @module
 */

// @ts-types="@types/nodemailer"
import nodemailer from "nodemailer";
import { ResourceError, toError } from "../../core/errors.ts";
import {
  type Notification,
  notificationText,
  type Notifier,
} from "../../core/automation/notification.ts";
import { describeNotifierUrl, scrubNotifier } from "./_secrets.ts";

/** Options of {@linkcode SmtpNotifier}. */
export interface SmtpOptions {
  /**
   * Name in records.
   * @default {"email"}
   */
  readonly name?: string;
  /**
   * Longest wait for the connection, greeting and each command (milliseconds).
   * @default {10000}
   */
  readonly timeoutMs?: number;
}

/** Sends notifications as plain-text email. */
export class SmtpNotifier implements Notifier {
  /** Name in records. */
  readonly name: string;
  /** The server and recipients, secrets redacted. */
  readonly description: string;
  readonly #url: URL;
  readonly #from: string;
  readonly #to: string[];
  readonly #transport: nodemailer.Transporter;
  readonly #timeoutMs: number;

  /**
   * A notifier mailing through the server of `url` (see the module doc).
   * @throws {ResourceError} `notify.invalid_url` when `from` or `to` is missing, or `ca` cannot be read.
   */
  constructor(url: string, options: SmtpOptions = {}) {
    this.#url = new URL(url);
    const fail = (what: string): never => {
      throw new ResourceError(
        "notify.invalid_url",
        `Cannot mail notifications through '${describeNotifierUrl(url)}' (NOTIFY_URLS): ${what}`,
        { input: "NOTIFY_URLS" },
      );
    };
    const secure = this.#url.protocol === "smtps:";
    if (!secure && this.#url.protocol !== "smtp:") fail("the scheme must be smtp or smtps");
    if (!this.#url.hostname) fail("no server host");
    const params = this.#url.searchParams;
    this.#from = params.get("from") ?? fail("add ?from=sender@example.com");
    this.#to = (params.get("to") ?? fail("add &to=someone@example.com (comma-separated for more)"))
      .split(",").map((s) => s.trim()).filter(Boolean);
    if (this.#to.length === 0) fail("'to' names no recipient");
    const starttls = params.get("starttls") ?? "required";
    if (!["required", "auto", "off"].includes(starttls)) {
      fail(`starttls must be required, auto or off, got '${starttls}'`);
    }
    let ca: string | undefined;
    const caPath = params.get("ca");
    if (caPath) {
      try {
        ca = Deno.readTextFileSync(caPath);
      } catch (error) {
        fail(
          `cannot read the CA file '${caPath}': ${error instanceof Error ? error.message : error}`,
        );
      }
    }
    const timeout = options.timeoutMs ?? 10_000;
    this.#timeoutMs = timeout;
    const user = decodeURIComponent(this.#url.username);
    this.#transport = nodemailer.createTransport({
      host: this.#url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(this.#url.port || (secure ? 465 : 587)),
      secure,
      requireTLS: !secure && starttls === "required",
      ignoreTLS: !secure && starttls === "off",
      ...(user ? { auth: { user, pass: decodeURIComponent(this.#url.password) } } : {}),
      ...(ca ? { tls: { ca } } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
    this.name = options.name ?? "email";
    this.description = `email ${describeNotifierUrl(url)}`;
  }

  /** Mails one notification to every recipient. */
  async send(n: Notification): Promise<void> {
    try {
      await this.#transport.sendMail({
        from: this.#from,
        to: this.#to,
        subject: n.title,
        text: notificationText(n),
        headers: { "X-Platform-Notification": n.id },
        // One Message-ID per notification: a copy sent again after a daemon handover is a duplicate to mail systems.
        messageId: `<${await messageIdOf(n.id)}@platform.notify>`,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const why = toError(error).message;
      if (code === "ETIMEDOUT") {
        throw new ResourceError(
          "notify.timeout",
          scrubNotifier(
            `Cannot mail ${this.description}: no answer within ${this.#timeoutMs} ms (${why})`,
            this.#url,
          ),
        );
      }
      throw new ResourceError(
        code === "ECONNECTION" || code === "ESOCKET" ? "notify.unreachable" : "notify.rejected",
        scrubNotifier(`Cannot mail ${this.description}: ${why}`, this.#url),
      );
    }
  }

  /** Closes pooled connections. */
  close(): void {
    this.#transport.close();
  }
}

/** A Message-ID local part for a notification id: its SHA-256, hex (ids hold `:` and run ids). */
async function messageIdOf(id: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(id));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(
    0,
    40,
  );
}
