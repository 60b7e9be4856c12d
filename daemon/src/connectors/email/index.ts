/**
 * `email@1`: an IMAP and SMTP account as a Keel connector. Actions: `send` (external, exactly once
 * per key through the Sent folder), `search` and `read` (read), `move` and `flag` (internal, with
 * undo). Event: `email.received` from the watched folder. Credential: `password`. Its IMAP and
 * SMTP servers are trust endpoints: nothing connects to them before the operator consented.
 * Everything read from a mailbox is untrusted data (see message.ts for the size limits).
 */
import type { Connector } from '../sdk';
import { emailConfigSchema, emailTrustEndpoints } from './account';
import { flagAction, moveAction, readAction, searchAction } from './mailbox';
import { probeEmail } from './probe';
import { EMAIL_RECEIVED, receivedEvent, receivedSource } from './received';
import { sendAction } from './send';

export const EMAIL_CONNECTOR = 'email@1';

export const emailConnector: Connector = {
  id: EMAIL_CONNECTOR,
  description: 'An email account over IMAP and SMTP: send, search, read, move and flag mail; hear new mail.',
  configSchema: emailConfigSchema,
  credentials: ['password'],
  actions: {
    send: sendAction,
    search: searchAction,
    read: readAction,
    move: moveAction,
    flag: flagAction,
  },
  events: { [EMAIL_RECEIVED]: receivedEvent },
  source: receivedSource,
  probe: probeEmail,
  trustEndpoints: emailTrustEndpoints,
};
