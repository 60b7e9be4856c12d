/**
 * The approval inbox's model: riskiest first then oldest, filters by agent, risk and words, the
 * batch rule (pending memory notes only), what a run's trace adds to an item, and the messages the
 * host accepts from the inbox.
 */
import { describe, expect, it } from 'vitest';
import { type ActionProposal, type Proposal, type RunTrace } from '@keel/schemas';
import { InboxToHostMessage, type InboxItem } from '@keel/schemas/src/webviews';
import {
  age,
  batchable,
  filterInbox,
  inboxAgents,
  inboxItem,
  NO_FILTER,
  riskOf,
  sortInbox,
} from '../../extension/src/approvals/inboxModel';

const at = (minute: number): string => new Date(Date.UTC(2026, 11, 3, 9, minute)).toISOString();

const proposal = (id: string, change: Partial<Proposal> = {}): Proposal => ({
  id,
  runId: `run-${id}`,
  stepId: 'save',
  runbook: 'onboarding',
  summary: `Summary ${id}`,
  reasoning: 'Because the customer asked.',
  changes: [
    { path: `memory/customers/${id}.md`, action: 'create', baseHash: null, content: 'x' },
  ] as Proposal['changes'],
  status: 'pending',
  protected: false,
  createdAt: at(0),
  staleFiles: [],
  decision: null,
  ...change,
});

const action = (risk: ActionProposal['risk']): ActionProposal => ({
  connector: 'mail',
  use: 'mail.smtp@1',
  action: 'send',
  risk,
  input: {},
  review: { title: 'To ada@example.com', language: 'email', text: 'Hello' },
  rule: `risk ${risk}: asks unless keel.yaml allows it`,
  edited: null,
});

const item = (p: Proposal): InboxItem => ({ proposal: p, inputs: {}, costUsd: 0, read: [] });

describe('approval inbox', () => {
  it('ranks risk: irreversible and external actions above files, files above memory notes', () => {
    expect(riskOf(proposal('a'))).toBe('memory note');
    expect(riskOf(proposal('b', { protected: true }))).toBe('file');
    expect(
      riskOf(
        proposal('c', { changes: [{ path: 'memory/x.md', action: 'delete', baseHash: 'h', content: null }] }),
      ),
    ).toBe('file');
    expect(
      riskOf(
        proposal('d', { changes: [{ path: 'outbox/x.md', action: 'create', baseHash: null, content: '' }] }),
      ),
    ).toBe('file');
    expect(riskOf(proposal('e', { changes: [], action: action('read') }))).toBe('internal action');
    expect(riskOf(proposal('f', { changes: [], action: action('external') }))).toBe('external action');
    expect(riskOf(proposal('g', { changes: [], action: action('irreversible') }))).toBe('irreversible');
  });

  it('sorts the riskiest first and, within a risk, the oldest first', () => {
    const items = [
      item(proposal('note-new', { createdAt: at(30) })),
      item(proposal('note-old', { createdAt: at(5) })),
      item(proposal('mail', { changes: [], action: action('external'), createdAt: at(40) })),
      item(proposal('refund', { changes: [], action: action('irreversible'), createdAt: at(50) })),
      item(proposal('config', { protected: true, createdAt: at(1) })),
    ];
    expect(sortInbox(items).map((i) => i.proposal.id)).toEqual([
      'refund',
      'mail',
      'config',
      'note-old',
      'note-new',
    ]);
  });

  it('filters by agent, by risk and by every word given, in any case', () => {
    const items = [
      item(proposal('a', { runbook: 'sales', summary: 'Follow up with Acme' })),
      item(proposal('b', { runbook: 'onboarding', reasoning: 'Lena joined ACME in May' })),
      item(proposal('c', { runbook: 'sales', changes: [], action: action('external') })),
    ];
    const ids = (f: Partial<typeof NO_FILTER>): string[] =>
      filterInbox(items, { ...NO_FILTER, ...f }).map((i) => i.proposal.id);
    expect(ids({})).toEqual(['a', 'b', 'c']);
    expect(ids({ agent: 'sales' })).toEqual(['a', 'c']);
    expect(ids({ risk: 'external action' })).toEqual(['c']);
    expect(ids({ text: 'acme' })).toEqual(['a', 'b']);
    expect(ids({ text: 'acme may' })).toEqual(['b']);
    expect(ids({ text: 'mail.send' })).toEqual(['c']);
    expect(ids({ agent: 'sales', text: 'lena' })).toEqual([]);
    expect(inboxAgents(items)).toEqual(['onboarding', 'sales']);
  });

  it('lets only pending changes to memory notes be approved together', () => {
    expect(batchable(proposal('a'))).toBe(true);
    expect(batchable(proposal('b', { status: 'stale', staleFiles: ['memory/customers/b.md'] }))).toBe(false);
    expect(batchable(proposal('c', { protected: true }))).toBe(false);
    expect(batchable(proposal('d', { changes: [], action: action('internal') }))).toBe(false);
  });

  it("adds the run's inputs, spend and the notes it read, each range once", () => {
    const retrieved = [
      { path: 'memory/customers/acme.md', startLine: 3, endLine: 9, score: 0.9 },
      { path: 'memory/customers/acme.md', startLine: 3, endLine: 9, score: 0.8 },
      { path: 'memory/decisions/pricing.md', startLine: 0, endLine: 4, score: 0.5 },
    ];
    const trace = {
      run: { inputs: { customer: 'Acme' }, costUsd: 0.0123 },
      steps: [
        { id: 'look', retrieved: retrieved.slice(0, 2) },
        { id: 'again', retrieved: retrieved.slice(1) },
      ],
    } as unknown as RunTrace;
    expect(inboxItem(proposal('a'), trace)).toMatchObject({
      inputs: { customer: 'Acme' },
      costUsd: 0.0123,
      read: [
        { path: 'memory/customers/acme.md', startLine: 3, endLine: 9 },
        { path: 'memory/decisions/pricing.md', startLine: 1, endLine: 4 },
      ],
    });
    // A run that cannot be read leaves its fields empty; the proposal is still listed.
    expect(inboxItem(proposal('a'), null)).toMatchObject({ inputs: null, costUsd: null, read: [] });
  });

  it('says how long ago in words', () => {
    const now = Date.parse(at(0));
    expect(age(at(0), now)).toBe('just now');
    expect(age(new Date(now - 5 * 60_000).toISOString(), now)).toBe('5 min ago');
    expect(age(new Date(now - 3 * 3_600_000).toISOString(), now)).toBe('3 h ago');
    expect(age(new Date(now - 72 * 3_600_000).toISOString(), now)).toBe('3 days ago');
  });

  it('accepts what the inbox sends and refuses anything else', () => {
    expect(InboxToHostMessage.safeParse({ type: 'approveBatch', ids: ['p1', 'p2'] }).success).toBe(true);
    expect(InboxToHostMessage.safeParse({ type: 'approveBatch', ids: [] }).success).toBe(false);
    expect(InboxToHostMessage.safeParse({ type: 'openNote', path: 'memory/a.md', line: 0 }).success).toBe(
      false,
    );
    expect(InboxToHostMessage.safeParse({ type: 'runCommand', command: 'x' }).success).toBe(false);
  });
});
