/**
 * billing@1's account: its settings from keel.yaml, the Stripe client made from them with the
 * `secretKey` credential, and the one place Stripe's errors become Keel's. The client talks only
 * to keel.yaml's `apiBase` (the origin the operator trusted; the SDK never follows redirects), and
 * every error that leaves here names the fix and never carries the key.
 */
import type { CredentialSource, TrustEndpoint } from '@keel/schemas';
import type Stripe from 'stripe';
import { z } from 'zod';
import { connectorLibraries } from '../connectorLibraries';
import { ActionInputError, OutcomeUnknownError, type ActionContext } from '../sdk';

/** Strict: a misspelt setting (`apibase`) is an error at its line, not a silent default. */
export const billingConfigSchema = z.strictObject({
  /** Where the Stripe API is; only a test server on loopback may use plain http. */
  apiBase: z.string().url().default('https://api.stripe.com'),
  /** Days an invoice sent for payment has before it is due (Stripe's `days_until_due`). */
  daysUntilDue: z.number().int().min(0).max(365).default(30),
  /** Currency of invoices and lines when the input names none (ISO code, lower case). */
  currency: z
    .string()
    .regex(/^[a-z]{3}$/, 'must be a three-letter ISO currency code in lower case, like eur')
    .default('usd'),
});

export type BillingSettings = z.infer<typeof billingConfigSchema>;
export type Context = Omit<ActionContext, 'idempotencyKey'>;

/** A failure of the billing connector, with a message meant for the operator. */
export class BillingError extends Error {
  override name = 'BillingError';
}

/** The input cannot be carried out as given (Stripe refused it): never retried. */
export class BillingInputError extends ActionInputError {
  override name = 'BillingInputError';
}

/** `scheme://host:port` of a URL, as the operator trusts it. */
export function originOf(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return `${parsed.protocol.replace(/:$/, '')}://${parsed.hostname.toLowerCase()}:${port}`;
}

/** The API the operator consents to before Keel sends it the secret key. */
export function billingTrustEndpoints(
  config: Record<string, unknown>,
  credentials: Record<string, CredentialSource>,
): TrustEndpoint[] {
  const parsed = billingConfigSchema.safeParse(config);
  if (!parsed.success) return [];
  const key = credentials.secretKey;
  const apiKeyEnv = key && 'env' in key ? key.env : null;
  return [{ purpose: 'billing', origin: originOf(parsed.data.apiBase), apiKeyEnv }];
}

/** The connector's settings with defaults applied. */
export function settings(ctx: Pick<Context, 'config'>): BillingSettings {
  const parsed = billingConfigSchema.safeParse(ctx.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BillingError(
      `billing@1 settings in keel.yaml are invalid at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/i;

export interface BillingSession {
  stripe: Stripe;
  account: BillingSettings;
  secretKey: string;
}

/**
 * A Stripe client for `apiBase`. Retries are the SDK's minimum: it sends a request whose
 * connection closed before an answer once more, with the same idempotency key (so Stripe answers
 * with the first result, never a second object). A write still unanswered then is reported as
 * OutcomeUnknownError, and the host asks `find` before trying again.
 */
export function openStripe(ctx: Context): BillingSession {
  const account = settings(ctx);
  const secretKey = ctx.credential('secretKey');
  const url = new URL(account.apiBase);
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname)) {
    throw new BillingError(
      `billing@1 will not send the secret key in clear text to ${url.host}: use an https:// apiBase in keel.yaml.`,
    );
  }
  if (url.pathname !== '/' || url.search !== '') {
    throw new BillingError(
      `billing@1's apiBase must be an origin like https://api.stripe.com (no path): fix apiBase in keel.yaml.`,
    );
  }
  const StripeSdk = connectorLibraries().Stripe();
  const stripe = new StripeSdk(secretKey, {
    host: url.hostname,
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    maxNetworkRetries: 0,
    timeout: 30_000,
    telemetry: false,
    appInfo: { name: 'Keel billing@1' },
  });
  return { stripe, account, secretKey };
}

/** Runs `use` with a client; turns any failure into a billing error without the key. */
export async function withStripe<T>(
  ctx: Context,
  use: (session: BillingSession) => Promise<T>,
  writing = false,
): Promise<T> {
  const session = openStripe(ctx);
  try {
    return await use(session);
  } catch (error) {
    throw stripeFailure(error, session, writing);
  }
}

/** One error for the operator from whatever the SDK threw; the secret key is never in it. */
export function stripeFailure(error: unknown, session: BillingSession, writing: boolean): Error {
  const secret = session.secretKey;
  if (error instanceof ActionInputError || error instanceof OutcomeUnknownError) return error;
  if (error instanceof BillingError) return new BillingError(redact(error.message, secret));
  const where = `Stripe at ${new URL(session.account.apiBase).host}`;
  const { errors } = connectorLibraries().Stripe();
  if (error instanceof errors.StripeError) {
    const message = redact(error.message, secret).slice(0, 500);
    if (error instanceof errors.StripeAuthenticationError) {
      return new BillingError(
        `${where} refused the secret key: check the secretKey credential of this connector.`,
      );
    }
    if (error instanceof errors.StripeConnectionError) {
      if (writing) {
        return new OutcomeUnknownError(
          `${where} did not answer a write (${message}); Keel will ask Stripe whether it happened.`,
        );
      }
      return new BillingError(`${where} is not reachable (${message}): check apiBase in keel.yaml.`);
    }
    if (error instanceof errors.StripeInvalidRequestError || error instanceof errors.StripeCardError) {
      return new BillingInputError(`${where} refused the request: ${message}`);
    }
    if (error instanceof errors.StripeIdempotencyError) {
      return new BillingInputError(
        `${where} refused a retry whose input changed under the same idempotency key: ${message}`,
      );
    }
    return new BillingError(`${where}: ${message}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new BillingError(`${where}: ${redact(message, secret).slice(0, 500)}`);
}

export function redact(text: string, secret: string): string {
  if (secret === '') return text;
  return text.split(secret).join('[secretKey]');
}
