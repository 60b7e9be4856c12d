/**
 * http@1's probe: the `probe: { path, schema }` of keel.yaml as a GET through the same request and
 * schema check the actions use, so an API that moved or changed its shape fails here first; the
 * `Server` header, when the API sends one, is kept as its version.
 * Without `probe:` it only checks the settings (nothing is sent).
 */
import type { ProbeResult } from '../sdk';
import { allowedOrigins, optionalCredential, settings, type Context } from './config';
import { checkedRequest } from './actions';

export async function probeHttp(ctx: Context): Promise<ProbeResult> {
  const checkedAt = new Date().toISOString();
  try {
    const config = settings(ctx);
    if (!config.probe) {
      return {
        ok: true,
        detail: `may contact ${allowedOrigins(config).join(', ') || 'no host'} (no probe: in keel.yaml, nothing was sent)`,
        checkedAt,
      };
    }
    const answer = await checkedRequest(
      'GET',
      { path: config.probe.path, ...(config.probe.schema ? { responseSchema: config.probe.schema } : {}) },
      { ...ctx, idempotencyKey: 'probe' },
    );
    return {
      ok: true,
      detail: `GET ${config.probe.path}: HTTP ${answer.status}`,
      ...(answer.server ? { version: answer.server } : {}),
      checkedAt,
    };
  } catch (error) {
    let token: string | null = null;
    try {
      token = optionalCredential(ctx, 'token');
    } catch {
      // An unset token is itself the failure being reported.
    }
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, detail: token ? message.split(token).join('[redacted]') : message, checkedAt };
  }
}
