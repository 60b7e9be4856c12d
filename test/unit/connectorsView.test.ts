/** What the operator sees of connectors in the sidebar: badges, probe ages, errors, order, secret keys. */
import { describe, expect, it } from 'vitest';
import type { ConnectorInfo } from '@keel/schemas';
import {
  age,
  connectorRow,
  connectorSecretKey,
  sortConnectors,
} from '../../extension/src/connectors/connectorList';
import { handOverConnectorSecrets } from '../../extension/src/connectors/connectorHandOver';

const NOW = Date.parse('2026-11-25T09:00:00.000Z');

const connector = (change: Partial<ConnectorInfo>): ConnectorInfo => ({
  name: 'mail',
  use: 'email@1',
  state: 'unchecked',
  credential: null,
  credentials: [{ name: 'password', from: 'secret' }],
  actions: [{ name: 'send', risk: 'external' }],
  events: ['email.received'],
  lastProbe: null,
  breaker: 'closed',
  lastEventAt: null,
  lastError: null,
  ...change,
});

describe('connector rows', () => {
  it('shows a ready connector with its probe age and words, and offers Set secret', () => {
    const row = connectorRow(
      connector({
        state: 'ready',
        lastProbe: {
          ok: true,
          detail: 'IMAP 127.0.0.1:143 as alice: 5 folders',
          at: '2026-11-25T08:57:00.000Z',
        },
        lastEventAt: '2026-11-25T08:59:30.000Z',
      }),
      NOW,
    );
    expect(row).toMatchObject({
      badge: 'ready',
      tone: 'ok',
      probe: 'ok 3m ago',
      probeDetail: 'IMAP 127.0.0.1:143 as alice: 5 folders',
      lastEvent: 'last event 30s ago',
      error: null,
      secrets: ['password'],
    });
    expect(row.label).toBe(
      'mail (email@1), ready, probe ok 3m ago, IMAP 127.0.0.1:143 as alice: 5 folders, last event 30s ago',
    );
  });

  it('names the missing credential and the trust to give, in the badge and for screen readers', () => {
    const missing = connectorRow(
      connector({ state: 'needs_credential', credential: 'password', lastError: 'not in secret storage' }),
      NOW,
    );
    expect(missing).toMatchObject({
      badge: 'needs credential password',
      tone: 'warn',
      probe: 'never checked',
    });
    expect(missing.label).toContain('error: not in secret storage');
    const untrusted = connectorRow(
      connector({ state: 'needs_trust', credentials: [{ name: 'password', from: 'env' }] }),
      NOW,
    );
    expect(untrusted).toMatchObject({ badge: 'needs trust', tone: 'warn', secrets: [] });
  });

  it('shows a failed probe as an error, its words as the error rather than the detail', () => {
    const row = connectorRow(
      connector({
        state: 'error',
        lastProbe: {
          ok: false,
          detail: 'IMAP 127.0.0.1:9 is not reachable (ECONNREFUSED)',
          at: '2026-11-25T07:00:00.000Z',
        },
        lastError: 'IMAP 127.0.0.1:9 is not reachable (ECONNREFUSED)',
      }),
      NOW,
    );
    expect(row).toMatchObject({ tone: 'error', probe: 'failed 2h ago', probeDetail: null });
    expect(row.error).toContain('ECONNREFUSED');
  });

  it('says an open breaker refuses the actions and how to close it; shows the server version', () => {
    const failed = connectorRow(
      connector({
        state: 'error',
        breaker: 'open',
        lastProbe: { ok: false, detail: 'login refused', at: '2026-11-25T08:00:00.000Z' },
        lastError: 'login refused',
      }),
      NOW,
    );
    expect(failed.breaker).toContain('keel connectors check mail');
    expect(failed.label).toContain('breaker open');
    const passed = connectorRow(
      connector({
        state: 'ready',
        lastProbe: { ok: true, detail: 'ok', at: '2026-11-25T08:00:00.000Z', version: 'Dovecot 2.3' },
      }),
      NOW,
    );
    expect(passed).toMatchObject({ breaker: null, version: 'server Dovecot 2.3' });
  });

  it('puts the connectors that need the operator first, then by name', () => {
    const list = sortConnectors([
      connector({ name: 'b', state: 'ready' }),
      connector({ name: 'a', state: 'ready' }),
      connector({ name: 'z', state: 'error' }),
      connector({ name: 'y', state: 'needs_trust' }),
    ]);
    expect(list.map((c) => c.name)).toEqual(['z', 'y', 'a', 'b']);
  });

  it('counts ages in the largest whole unit', () => {
    expect(age('2026-11-25T08:59:58.000Z', NOW)).toBe('just now');
    expect(age('2026-11-24T08:00:00.000Z', NOW)).toBe('1d ago');
    // A clock a little ahead on the daemon's side is "just now", not negative.
    expect(age('2026-11-25T09:00:05.000Z', NOW)).toBe('just now');
  });
});

describe('connector secrets', () => {
  it('keeps one secret per workspace, connector and credential, unambiguously', () => {
    expect(connectorSecretKey('/w/acme', 'mail', 'password')).toBe(
      'keel.connectorSecret/%2Fw%2Facme/mail/password',
    );
    expect(connectorSecretKey('/w', 'a/b', 'c')).not.toBe(connectorSecretKey('/w/a', 'b', 'c'));
  });

  it('hands over only the stored credentials keel.yaml asks the editor for', async () => {
    const stored: Record<string, string> = { 'mail/password': 'stored-secret-1234' };
    const sent: string[] = [];
    const count = await handOverConnectorSecrets(
      () =>
        Promise.resolve([
          connector({}),
          connector({ name: 'other', credentials: [{ name: 'password', from: 'secret' }] }),
          connector({ name: 'envd', credentials: [{ name: 'password', from: 'env' }] }),
        ]),
      (c, n) => Promise.resolve(stored[`${c}/${n}`]),
      (c, n, v) => {
        sent.push(`${c}/${n}=${v}`);
        return Promise.resolve();
      },
    );
    expect(count).toBe(1);
    expect(sent).toEqual(['mail/password=stored-secret-1234']);
  });
});
