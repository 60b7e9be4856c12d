/**
 * What every connector's probe does with its sample call (email's newest message, a calendar's
 * next day, an MCP server's tools, a billing or HTTP adapter's own): the answer is checked against
 * the schema the adapter's action declares, and a mismatch fails the probe naming the field that
 * drifted, so a server that renamed or dropped a field opens the breaker before a run meets it.
 */
import type { z } from 'zod';

/** The sample answer no longer has the shape the adapter declares. */
export class ProbeDriftError extends Error {
  override name = 'ProbeDriftError';
}

/**
 * The value as the schema reads it; throws ProbeDriftError naming the call and each field that
 * drifted (`"messages.0.from": expected string, received undefined`), at most five of them.
 */
export function checkSample<T>(call: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)).join('.');
    return `${path ? `"${path}"` : 'the answer'}: ${issue.message}`;
  });
  const more = parsed.error.issues.length > 5 ? ` (and ${parsed.error.issues.length - 5} more)` : '';
  throw new ProbeDriftError(
    `the answer to ${call} no longer matches the connector's schema: ${fields.join('; ')}${more}`,
  );
}
