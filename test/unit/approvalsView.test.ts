/** What the operator sees of approvals in the editor: the list, the diff's titles and documents, edits, the trace. */
import { describe, expect, it } from 'vitest';
import type { Proposal, RunSummary, RunTrace } from '@keel/schemas';
import {
  ACTION_CONTEXT_FILE,
  actionContext,
  actionLine,
  decisionMessage,
  describeApproval,
  diffTitle,
  editCopyPath,
  editedFiles,
  editedReview,
  mergeApproval,
  parseEditCopyPath,
  parseProposalDocumentPath,
  proposalDocumentPath,
  reviewFileName,
  sortApprovals,
  staleNote,
} from '../../extension/src/approvals/approvalList';
import { renderTrace } from '../../extension/src/runs/traceMarkdown';

const proposal = (change: Partial<Proposal>): Proposal => ({
  id: 'p1',
  runId: 'r1',
  stepId: 'record',
  runbook: 'onboarding',
  summary: 'Onboarding plan for Acme',
  reasoning: 'The plan belongs next to the customer note.',
  changes: [
    { path: 'memory/customers/acme.md', action: 'modify', baseHash: 'ab'.repeat(32), content: '# Acme\n' },
  ],
  status: 'pending',
  protected: false,
  createdAt: '2026-11-25T08:55:03.000Z',
  staleFiles: [],
  decision: null,
  ...change,
});

describe('approvals list', () => {
  it('keeps the oldest first, replaces a changed proposal and drops a decided one', () => {
    const first = proposal({ id: 'a', createdAt: '2026-11-25T08:00:00.000Z' });
    const second = proposal({ id: 'b', createdAt: '2026-11-25T09:00:00.000Z' });
    expect(sortApprovals([second, first]).map((p) => p.id)).toEqual(['a', 'b']);

    const stale = { ...first, status: 'stale' as const, staleFiles: ['memory/customers/acme.md'] };
    expect(mergeApproval([first, second], stale)).toEqual([stale, second]);
    const applied = {
      ...first,
      status: 'applied' as const,
      decision: { kind: 'approved' as const, reason: null, commit: 'c0ffee1234', at: '2026-11-25T09:01:00Z' },
    };
    expect(mergeApproval([first, second], applied)).toEqual([second]);
    expect(mergeApproval([], second)).toEqual([second]);
  });

  it('describes a proposal in words, stale and protected ones included', () => {
    expect(describeApproval(proposal({}))).toBe(
      'Onboarding plan for Acme, proposed by onboarding, modify memory/customers/acme.md',
    );
    const stale = proposal({ status: 'stale', protected: true, staleFiles: ['memory/customers/acme.md'] });
    expect(describeApproval(stale)).toContain('stale: a file changed since it was proposed, protected file');
    expect(staleNote(stale)).toBe(
      'memory/customers/acme.md changed after this was proposed: look at the new diff before deciding.',
    );
    expect(staleNote(proposal({}))).toBeNull();
  });
});

describe('the diff of a proposal', () => {
  it('is titled by the file and the runbook that proposed it', () => {
    const modify = { path: 'memory/customers/acme.md', action: 'modify' as const };
    expect(diffTitle({ runbook: 'onboarding' }, modify, false)).toBe('acme.md (proposed by onboarding)');
    expect(diffTitle({ runbook: 'onboarding' }, modify, true)).toBe(
      "acme.md (your edit of onboarding's proposal)",
    );
    expect(diffTitle({ runbook: 'cleanup' }, { path: 'outbox/old.md', action: 'delete' }, false)).toBe(
      'old.md (deletion proposed by cleanup)',
    );
  });

  it('addresses each side by proposal, side and file, with the file name last', () => {
    const id = 'p-2026/11:odd id';
    const path = proposalDocumentPath(id, 'proposed', 'memory/customers/acme.md');
    expect(path.endsWith('/acme.md')).toBe(true);
    expect(parseProposalDocumentPath(path)).toEqual({
      id,
      side: 'proposed',
      path: 'memory/customers/acme.md',
    });
    expect(parseProposalDocumentPath('/p1/elsewhere/memory/a.md')).toBeNull();
    expect(parseProposalDocumentPath('/p1/current/')).toBeNull();
  });

  it("keeps the operator's editable copy under .keel/edits/, per proposal", () => {
    const copy = editCopyPath('p/1', 'memory/customers/acme.md');
    expect(copy).toBe('.keel/edits/p%2F1/memory/customers/acme.md');
    expect(parseEditCopyPath(copy)).toEqual({ id: 'p/1', path: 'memory/customers/acme.md' });
    expect(parseEditCopyPath('memory/customers/acme.md')).toBeNull();
  });
});

describe('an action proposal', () => {
  const email = 'To: bob@acme.com\nSubject: Quote\n\nHello Bob,\n';
  const send = proposal({
    summary: 'mail.send: Email to bob@acme.com: Quote',
    changes: [],
    action: {
      connector: 'mail',
      use: 'email@1',
      action: 'send',
      risk: 'external',
      input: { to: ['bob@acme.com'], subject: 'Quote', text: 'Hello Bob,\n' },
      review: { title: 'Email to bob@acme.com: Quote', language: 'email', text: email },
      rule: 'risk external: asks unless an approvals.actions rule allows it',
      edited: null,
    },
  });

  it('is listed with its summary, the action and why it asks, and no files', () => {
    expect(actionLine(send)).toBe(
      'mail.send (external): risk external: asks unless an approvals.actions rule allows it',
    );
    expect(actionLine(proposal({}))).toBeNull();
    expect(describeApproval(send)).toBe(
      'mail.send: Email to bob@acme.com: Quote, proposed by onboarding, ' +
        'mail.send (external): risk external: asks unless an approvals.actions rule allows it',
    );
  });

  it('opens as its review document, an email as plain text, in an editable copy', () => {
    expect(reviewFileName(send.action!)).toBe('mail.send.txt');
    const yaml = { ...send.action!, review: { ...send.action!.review, language: 'yaml' as const } };
    expect(reviewFileName(yaml)).toBe('mail.send.yaml');
    expect(parseEditCopyPath(editCopyPath(send.id, reviewFileName(send.action!)))).toEqual({
      id: 'p1',
      path: 'mail.send.txt',
    });
  });

  it('is read beside its context: why it waits, what the agent said, the run and its inputs quoted', () => {
    const path = proposalDocumentPath(send.id, 'context', ACTION_CONTEXT_FILE);
    expect(parseProposalDocumentPath(path)).toEqual({ id: 'p1', side: 'context', path: 'context.md' });
    const said = proposal({
      ...send,
      reasoning:
        'Waits for your decision: risk external.\n\nWhat the agent said when it chose this: Bob asked for a quote.',
    });
    const text = actionContext(said, {
      status: 'waiting_approval',
      inputs: { customer: 'Bob', mail: 'Hi,\n# not a heading\nCan you quote?', count: 3 },
    });
    expect(text).toContain('# mail.send: waits for your decision');
    expect(text).toContain('Run `r1` of **onboarding**, step `record` (waiting_approval).');
    expect(text).toContain('Risk: **external**. Email to bob@acme.com: Quote');
    expect(text).toContain('> What the agent said when it chose this: Bob asked for a quote.');
    // Each input line is quoted: the sender's "# not a heading" stays inside the quote.
    expect(text).toContain('**mail**\n\n> Hi,\n> # not a heading\n> Can you quote?');
    expect(text).toContain('**count**\n\n> 3');
    const long = actionContext(send, { status: 'running', inputs: { text: 'x'.repeat(5_000) } });
    expect(long).toContain('[... 1000 more characters]');
    expect(actionContext(send, null)).toContain('The run could not be read.');
  });

  it('sends the edited review only when the operator changed it', () => {
    expect(editedReview(send, email)).toBeUndefined();
    expect(editedReview(send, email.replace(/\n/g, '\r\n'))).toBeUndefined();
    expect(editedReview(send, undefined)).toBeUndefined();
    const changed = email.replace('Hello Bob', 'Hi Bob');
    expect(editedReview(send, changed)).toBe(changed);
    expect(editedReview(proposal({}), changed)).toBeUndefined();
  });
});

describe('approving with edits', () => {
  const twoFiles = proposal({
    changes: [
      { path: 'memory/a.md', action: 'modify', baseHash: 'x', content: 'A\n' },
      { path: 'memory/b.md', action: 'create', baseHash: null, content: 'B\n' },
      { path: 'memory/c.md', action: 'delete', baseHash: 'y', content: null },
    ],
  });

  it('sends only the files the operator changed', () => {
    expect(editedFiles(twoFiles, { 'memory/a.md': 'A\n', 'memory/b.md': 'B, better\n' })).toEqual({
      'memory/b.md': 'B, better\n',
    });
  });

  it('is a plain approval when nothing was changed or nothing was opened for editing', () => {
    expect(editedFiles(twoFiles, { 'memory/a.md': 'A\n', 'memory/b.md': 'B\n' })).toBeUndefined();
    expect(editedFiles(twoFiles, {})).toBeUndefined();
    // A deletion has no text to edit; a stray copy of it is ignored.
    expect(editedFiles(twoFiles, { 'memory/c.md': 'C\n' })).toBeUndefined();
  });

  it('tells the operator what was decided, with the commit', () => {
    const at = '2026-11-25T09:01:00Z';
    const approved = proposal({
      status: 'applied',
      decision: { kind: 'approved', reason: null, commit: 'c0ffee1234abcd', at },
    });
    expect(decisionMessage(approved)).toBe('Keel: approved “Onboarding plan for Acme”: committed c0ffee1.');
    const edited = proposal({
      status: 'applied',
      decision: { kind: 'edited', reason: null, commit: 'abc1234', at },
    });
    expect(decisionMessage(edited)).toContain(
      "with your edits: committed abc1234. Your correction is remembered for onboarding's next runs.",
    );
    const rejected = proposal({
      status: 'rejected',
      decision: { kind: 'rejected', reason: 'no', commit: null, at },
    });
    expect(decisionMessage(rejected)).toBe(
      'Keel: rejected “Onboarding plan for Acme”. The run of onboarding is told why.',
    );
  });
});

describe('the trace of a run waiting for approval', () => {
  const run: RunSummary = {
    id: 'r1',
    runbook: 'onboarding',
    status: 'waiting_approval',
    inputs: {},
    startedAt: '2026-11-25T08:55:00.000Z',
    endedAt: null,
    currentStep: 'record',
    stepsDone: 1,
    stepsTotal: 2,
    costUsd: 0,
    tokens: 0,
    error: null,
    escalation: null,
    waitingFor: 'p1',
    outputs: null,
  };
  const step = (id: string, status: RunTrace['steps'][number]['status']): RunTrace['steps'][number] => ({
    id,
    type: id === 'record' ? 'propose' : 'retrieve',
    status,
    startedAt: '2026-11-25T08:55:00.000Z',
    endedAt: null,
    durationMs: null,
    input: null,
    output: null,
    error: null,
    modelCalls: [],
    retrieved: [],
  });
  const VERSION = { path: 'runbooks/onboarding.yaml', blob: null, file: 'unchanged' } as const;
  const waiting = {
    id: 'p1',
    summary: 'Onboarding plan for Acme',
    changes: [{ action: 'modify', path: 'memory/customers/acme.md' }],
  };

  it('shows the waiting step with the summary, the files and a link to the diff', () => {
    const trace = {
      run,
      runbook: VERSION,
      steps: [step('find', 'succeeded'), step('record', 'waiting_approval')],
    };
    const rendered = renderTrace(trace, { now: 0, live: true, formatTime: (i) => i, waiting });
    const lines = rendered.text.split('\n');
    expect(lines[0]).toBe('# Run of onboarding: ‖ waiting for approval');
    expect(rendered.text).toContain('### 2. record (propose): waiting for approval');
    expect(rendered.text).toContain(
      '**Waiting for your approval:** Onboarding plan for Acme\n\n- modify `memory/customers/acme.md`\n- Open the proposed change',
    );
    const link = rendered.links.find((l) => l.kind === 'proposal')!;
    expect(link).toMatchObject({ kind: 'proposal', proposalId: 'p1' });
    expect(lines[link.line]!.slice(link.startColumn, link.endColumn)).toBe('Open the proposed change');
  });

  it('says what the run waits for even when no step is marked waiting', () => {
    const rendered = renderTrace(
      { run, runbook: VERSION, steps: [step('find', 'succeeded')] },
      { now: 0, live: true, formatTime: (i) => i, waiting: { id: 'p1', summary: null, changes: [] } },
    );
    expect(rendered.text).toContain(
      '## Waiting for your approval\n\n**Waiting for your approval:** a proposed change',
    );
    // Besides the trace's link to memory as of the run's start: the one to the proposal.
    expect(rendered.links.filter((l) => l.kind !== 'memoryAsOf')).toEqual([
      expect.objectContaining({ kind: 'proposal', proposalId: 'p1' }),
    ]);
  });
});
