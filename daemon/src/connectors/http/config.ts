/**
 * http@1's settings from keel.yaml and what the operator consents to: every origin it may contact
 * (`baseUrl` and `hosts`) is a trust endpoint, so no request and no token leaves before consent.
 * Strict: a misspelt setting is an error at its line, and a secret header written into keel.yaml
 * is refused with the credential to use instead.
 */
import type { CredentialSource, TrustEndpoint } from '@keel/schemas';
import { z } from 'zod';
import { ActionInputError, type ActionContext } from '../sdk';

export type Context = Omit<ActionContext, 'idempotencyKey'>;

/** Headers that carry a secret: they come from the `token` credential, never from keel.yaml. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key|api-key)$/i;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const SCHEMA_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

const origin = z
  .string()
  .url()
  .refine((url) => /^https?:\/\//i.test(url), 'must be an http:// or https:// URL')
  .refine((url) => !new URL(url).username && !new URL(url).password, 'must not hold a user or password');

/** A JSON Schema written inline, or the name of one under this connector's `schemas:`. */
export const SchemaRef = z.union([z.string().regex(SCHEMA_NAME), z.record(z.string(), z.unknown())]);

export const httpConfigSchema = z
  .strictObject({
    /** Where paths are resolved; its origin is allow-listed. */
    baseUrl: origin.optional(),
    /** Further origins requests may go to (input `host`), each a trust endpoint. */
    hosts: z.array(origin).default([]),
    /** Sent with every request (never a secret: see `token`). */
    headers: z.record(z.string().regex(HEADER_NAME, 'must be an HTTP header name'), z.string()).default({}),
    timeoutSeconds: z.number().positive().max(300).default(30),
    /** Larger answers fail the step instead of filling the daemon's memory. */
    maxResponseBytes: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Named JSON Schemas a `responseSchema` (or the probe) may refer to. */
    schemas: z.record(z.string().regex(SCHEMA_NAME), z.record(z.string(), z.unknown())).default({}),
    /** The probe: a GET of this path, its answer checked against `schema` when given. */
    probe: z.strictObject({ path: z.string().min(1), schema: SchemaRef.optional() }).optional(),
    /** Receive signed deliveries at `POST /hooks/<name>` (credential `webhookSecret`). */
    webhook: z
      .strictObject({
        signatureHeader: z.string().regex(HEADER_NAME).default('x-keel-signature'),
        idHeader: z.string().regex(HEADER_NAME).default('x-keel-event-id'),
        /** A delivery signed longer ago than this (or this far ahead) is refused as a replay. */
        toleranceSeconds: z.number().int().min(1).max(3600).default(300),
      })
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (!value.baseUrl && value.hosts.length === 0 && !value.webhook) {
      ctx.addIssue({
        code: 'custom',
        path: ['baseUrl'],
        message: 'http@1 needs baseUrl (or hosts) to send requests, or webhook: {} to receive them',
      });
    }
    for (const name of Object.keys(value.headers)) {
      if (SECRET_HEADER.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['headers', name],
          message: `secrets never go in keel.yaml: remove the header "${name}" and write "credentials: { token: { env: SOME_VARIABLE } }" (sent as "Authorization: Bearer ...")`,
        });
      }
    }
  });

export type HttpSettings = z.infer<typeof httpConfigSchema>;

/** `scheme://host:port` of a URL, as the operator trusts it. */
export function originOf(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return `${parsed.protocol.replace(/:$/, '')}://${parsed.hostname.toLowerCase()}:${port}`;
}

/** Every origin the instance may contact: `baseUrl`'s first, then `hosts`, without repeats. */
export function allowedOrigins(settings: Pick<HttpSettings, 'baseUrl' | 'hosts'>): string[] {
  const all = [...(settings.baseUrl ? [settings.baseUrl] : []), ...settings.hosts].map((u) => originOf(u));
  return [...new Set(all)];
}

/** Each origin, for the operator's consent; the token's variable is named with each. */
export function httpTrustEndpoints(
  config: Record<string, unknown>,
  credentials: Record<string, CredentialSource>,
): TrustEndpoint[] {
  const parsed = httpConfigSchema.safeParse(config);
  if (!parsed.success) return [];
  const token = credentials.token;
  const apiKeyEnv = token && 'env' in token ? token.env : null;
  return allowedOrigins(parsed.data).map((o) => ({ purpose: 'http', origin: o, apiKeyEnv }));
}

/** The settings with defaults applied; an invalid keel.yaml entry fails naming the field. */
export function settings(ctx: Pick<Context, 'config'>): HttpSettings {
  const parsed = httpConfigSchema.safeParse(ctx.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `http@1 settings in keel.yaml are invalid at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/**
 * A credential keel.yaml may leave out (`token` of a public API): null when it does not name it;
 * a named one that is unset still fails, naming the variable.
 */
export function optionalCredential(ctx: Pick<Context, 'credential'>, name: string): string | null {
  try {
    return ctx.credential(name);
  } catch (error) {
    if (error instanceof Error && /which keel\.yaml does not name/.test(error.message)) return null;
    throw error;
  }
}

/** The JSON Schema a `responseSchema` names (from `schemas:`) or is; refused when unknown. */
export function schemaOf(ref: z.infer<typeof SchemaRef>, config: HttpSettings): Record<string, unknown> {
  if (typeof ref !== 'string') return ref;
  const found = Object.hasOwn(config.schemas, ref) ? config.schemas[ref] : undefined;
  if (!found) {
    const known = Object.keys(config.schemas).join(', ') || 'none';
    throw new ActionInputError(
      `http@1 has no schema "${ref}": add it under "schemas:" of this connector in keel.yaml (it has: ${known})`,
    );
  }
  return found;
}
