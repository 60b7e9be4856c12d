/**
 * The approval inbox's batch approval is the one place a webview names several proposals at
 * once: whatever it sends, the host approves only proposals it knows to be open, pending changes
 * to memory notes (never an email or a payment, a protected file, a deletion or a stale diff), each
 * once; and a message out of shape is refused before anything looks at it.
 */
import { expect, it } from 'vitest';
import { type Proposal } from '@keel/schemas';
import { InboxToHostMessage } from '@keel/schemas/src/webviews';
import { approvableBatch } from '../../extension/src/approvals/inboxModel';

const base = (id: string, change: Partial<Proposal>): Proposal => ({
  id,
  runId: 'r1',
  stepId: 's',
  runbook: 'notes',
  summary: id,
  reasoning: '',
  changes: [
    { path: `memory/${id}.md`, action: 'modify', baseHash: 'h', content: 'x' },
  ] as Proposal['changes'],
  status: 'pending',
  protected: false,
  createdAt: '2026-12-03T09:00:00.000Z',
  staleFiles: [],
  decision: null,
  ...change,
});

const known = new Map<string, Proposal>(
  [
    base('note', {}),
    base('email', {
      changes: [],
      action: {
        connector: 'mail',
        use: 'mail.smtp@1',
        action: 'send',
        risk: 'external',
        input: {},
        review: { title: 't', language: 'email', text: 'x' },
        rule: 'risk external',
        edited: null,
      },
    }),
    base('config', {
      protected: true,
      changes: [{ path: 'keel.yaml', action: 'modify', baseHash: 'h', content: '' }],
    }),
    base('memoryConfig', { protected: true }),
    base('deletion', {
      changes: [{ path: 'memory/old.md', action: 'delete', baseHash: 'h', content: null }],
    }),
    base('stale', { status: 'stale', staleFiles: ['memory/stale.md'] }),
    base('outside', {
      changes: [{ path: 'memoryx/../keel.yaml', action: 'create', baseHash: null, content: '' }],
    }),
    base('climbs', {
      changes: [{ path: 'memory/../keel.yaml', action: 'modify', baseHash: 'h', content: '' }],
    }),
    base('backslash', {
      changes: [{ path: 'memory/..\\keel.yaml', action: 'modify', baseHash: 'h', content: '' }],
    }),
  ].map((p) => [p.id, p]),
);

it('approves from a batch only open, pending memory notes, each once, whatever the webview names', () => {
  const ids = [
    'email',
    'config',
    'memoryConfig',
    'deletion',
    'stale',
    'outside',
    'climbs',
    'backslash',
    'unknown',
    'note',
    'note',
  ];
  const { approve, left } = approvableBatch(ids, (id) => known.get(id));
  expect(approve.map((p) => p.id)).toEqual(['note']);
  expect(left).toBe(ids.length - 1);
});

it('refuses batch messages out of shape before the host reads them', () => {
  expect(InboxToHostMessage.safeParse({ type: 'approveBatch', ids: Array(201).fill('note') }).success).toBe(
    false,
  );
  expect(InboxToHostMessage.safeParse({ type: 'approveBatch', ids: [''] }).success).toBe(false);
  expect(InboxToHostMessage.safeParse({ type: 'approveBatch', ids: 'note' }).success).toBe(false);
  expect(
    InboxToHostMessage.safeParse({ type: 'approve', id: 'note', edited: { 'keel.yaml': 'x' } }).success,
  ).toBe(true);
  // Extra fields are dropped, never passed on: the host decides with the proposal as it knows it.
  const parsed = InboxToHostMessage.parse({ type: 'approve', id: 'note', edited: { 'keel.yaml': 'x' } });
  expect(parsed).toEqual({ type: 'approve', id: 'note' });
});
