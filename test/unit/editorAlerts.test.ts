/** What the editor tells the operator without being asked: escalations, opened breakers, used-up quotas. */
import { describe, expect, it } from 'vitest';
import type { BreakerState, ControlState, QuotaState, RunSummary } from '@keel/schemas';
import { EditorAlerts, notificationText } from '../../extension/src/alerts/editorAlerts';

const run = (change: Partial<RunSummary>): RunSummary => ({
  id: 'r1',
  runbook: 'inbox-triage',
  status: 'running',
  inputs: {},
  startedAt: '2026-12-03T08:00:00.000Z',
  endedAt: null,
  currentStep: 'draft',
  stepsDone: 2,
  stepsTotal: 4,
  costUsd: 0,
  tokens: 0,
  error: null,
  escalation: null,
  waitingFor: null,
  outputs: null,
  ...change,
});

const breaker = (state: BreakerState['state']): BreakerState => ({
  name: 'endpoint:https://models.example',
  state,
  failures: 3,
  retryAt: state === 'closed' ? null : '2026-12-03T08:05:00.000Z',
  succeededAt: null,
});

const quota = (state: QuotaState['state']): QuotaState => ({
  agent: 'inbox-triage',
  period: 'day',
  spentUsd: 1.2,
  tokens: 0,
  maxUsd: 1,
  maxTokens: null,
  state,
});

const control = (breakers: BreakerState[], quotas: QuotaState[] = []): ControlState => ({
  stopped: false,
  stoppedAt: null,
  reason: null,
  breakers,
  quotas,
});

describe('editor alerts', () => {
  it('tell an escalation of a run started elsewhere once, with its reason and trace', () => {
    const alerts = new EditorAlerts();
    const escalated = run({ status: 'failed', escalation: 'the customer asks for a refund over $500' });
    expect(alerts.runChanged(run({ escalation: 'not yet ended' }), false)).toBeNull();
    expect(alerts.runChanged(escalated, false)).toEqual({
      key: 'escalation:r1',
      message: 'Keel: inbox-triage escalated to you: the customer asks for a refund over $500',
      action: { label: 'Show Trace', runId: 'r1' },
    });
    expect(alerts.runChanged(escalated, false)).toBeNull();
    expect(alerts.runChanged(run({ id: 'r2', status: 'failed', error: 'timeout' }), false)).toBeNull();
  });

  it('show a quoted link as plain text, so a mail cannot put a command link in the editor', () => {
    const alerts = new EditorAlerts();
    const alert = alerts.runChanged(
      run({ status: 'failed', escalation: 'Customer says: [fix it](command:workbench.action.terminal.new)' }),
      false,
    );
    expect(alert?.message).toBe(
      'Keel: inbox-triage escalated to you: Customer says: [fix it] (command:workbench.action.terminal.new)',
    );
    expect(notificationText('[a]  (https://x.example) and [b](c)')).toBe(
      '[a] (https://x.example) and [b] (c)',
    );
  });

  it('leave a run started from this window to its own announcement', () => {
    const alerts = new EditorAlerts();
    expect(alerts.runChanged(run({ status: 'failed', escalation: 'why' }), true)).toBeNull();
  });

  it('tell a breaker once per outage, and not what stood when the editor connected', () => {
    const alerts = new EditorAlerts();
    expect(alerts.controlChanged(control([breaker('open')]))).toEqual([]);
    expect(alerts.controlChanged(control([breaker('half_open')]))).toEqual([]);
    expect(alerts.controlChanged(control([breaker('closed')]))).toEqual([]);
    const opened = alerts.controlChanged(control([breaker('open')]));
    expect(opened.map((a) => a.message)).toEqual([
      'Keel: the circuit breaker of model endpoint https://models.example opened after 3 failure(s) in a row; new calls are refused until a trial succeeds.',
    ]);
    // A failed trial (half open, then open again) is the same outage.
    expect(alerts.controlChanged(control([breaker('half_open')]))).toEqual([]);
    expect(alerts.controlChanged(control([breaker('open')]))).toEqual([]);
    alerts.controlChanged(control([breaker('closed')]));
    expect(alerts.controlChanged(control([breaker('open')]))).toHaveLength(1);
  });

  it('tell a used-up quota when it is hit, and again only after it was lifted', () => {
    const alerts = new EditorAlerts();
    alerts.controlChanged(control([], [quota('warning')]));
    expect(alerts.controlChanged(control([], [quota('exceeded')])).map((a) => a.key)).toEqual([
      'quota:inbox-triage:day',
    ]);
    expect(alerts.controlChanged(control([], [quota('exceeded')]))).toEqual([]);
    alerts.controlChanged(control([], [quota('ok')]));
    expect(alerts.controlChanged(control([], [quota('exceeded')]))).toHaveLength(1);
  });

  it('take the state after a reconnection as it stands', () => {
    const alerts = new EditorAlerts();
    alerts.controlChanged(control([breaker('closed')]));
    alerts.disconnected();
    expect(alerts.controlChanged(control([breaker('open')], [quota('exceeded')]))).toEqual([]);
  });
});
