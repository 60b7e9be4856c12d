/**
 * Connectors: the editor hands over the credentials keel.yaml keeps in its secret storage
 * (`credentials: { password: { secret: true } }`), per workspace and connector. The daemon keeps
 * them in memory only and redacts them from everything it writes.
 */
import { z } from 'zod';
import { defineRequest } from './define';

/** `keel/connectors/setSecret`: a credential from the editor's secret storage; an empty value forgets it. */
export const SetConnectorSecretRequest = defineRequest({
  method: 'keel/connectors/setSecret',
  params: z.strictObject({
    /** The connector's name under `connectors:` in keel.yaml. */
    connector: z.string().min(1),
    credential: z.string().min(1),
    value: z.string().max(64_000),
  }),
  result: z.object({ ok: z.literal(true) }),
});
