/**
 * `http@1`: an HTTP JSON API as a Keel connector. Actions: `get` (read), `post`, `put`, `delete`
 * (external; `Idempotency-Key` from run + step). Every origin it may contact (`baseUrl`, `hosts`)
 * is a trust endpoint; redirects are refused, paths cannot leave the base. Credentials (both
 * optional): `token`, sent as a bearer header, and `webhookSecret`, which signs deliveries to the
 * webhook listener (`POST /hooks/<name>`), turned into `http.webhook` events. Everything an API or
 * a delivery says is untrusted data.
 */
import type { Connector } from '../sdk';
import { deleteAction, getAction, postAction, putAction } from './actions';
import { httpConfigSchema, httpTrustEndpoints } from './config';
import { probeHttp } from './probe';
import { HTTP_WEBHOOK, httpWebhook, webhookEvent } from './webhook';

export const HTTP_CONNECTOR = 'http@1';

export const httpConnector: Connector = {
  id: HTTP_CONNECTOR,
  description:
    'An HTTP JSON API on allow-listed hosts: get, post, put and delete, answers checked against a schema; receives signed webhooks.',
  configSchema: httpConfigSchema,
  credentials: ['token', 'webhookSecret'],
  optionalCredentials: ['token', 'webhookSecret'],
  actions: { get: getAction, post: postAction, put: putAction, delete: deleteAction },
  events: { [HTTP_WEBHOOK]: webhookEvent },
  webhook: httpWebhook,
  probe: probeHttp,
  trustEndpoints: httpTrustEndpoints,
};
