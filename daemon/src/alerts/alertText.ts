/**
 * What an alert says: one short subject and a few lines naming what happened, which run, runbook
 * or approval, and how the operator acts on it (a `keel` command or VS Code). Content that came
 * from a model, a mail or a file (an escalation message, a proposal's summary) is only ever quoted,
 * on one line and cut short, after every known secret is taken out.
 */
import {
  type AlertKind,
  type EvalDrift,
  type BreakerState,
  type Proposal,
  type QuotaState,
  type RunSummary,
} from '@keel/schemas';

/** One alert, before it is sent or folded into a digest. */
export interface Alert {
  kind: AlertKind;
  /** Its identity: the same event always has the same one, so it is sent once (`alert:<kind>:<id>`). */
  identity: string;
  subject: string;
  text: string;
  /** The alert in one line, for a digest. */
  line: string;
}

/** Longest quoted piece of untrusted text in an alert. */
const QUOTE_LIMIT = 120;

export const KIND_LABELS: Record<AlertKind, string> = {
  escalation: 'escalation(s)',
  breakerOpened: 'circuit breaker(s) opened',
  quotaHit: 'quota(s) used up',
  triggeredRunFailed: 'triggered run(s) failed',
  approvalWaiting: 'approval(s) waiting',
  evalDrift: 'eval drift(s)',
};

const HOW_TO_ACT = 'Open the Keel sidebar in VS Code, or run the keel command in the workspace:';

/** Untrusted text as a short, one-line quotation without control characters. */
export function quote(text: string, scrub: (text: string) => string): string {
  const line = [...scrub(text)]
    .map((c) => (c < ' ' || c === '\u007f' || (c >= '\u2028' && c <= '\u2029') ? ' ' : c))
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
  const cut = [...line].length > QUOTE_LIMIT ? `${[...line].slice(0, QUOTE_LIMIT - 1).join('')}…` : line;
  return `"${cut.replace(/"/g, "'")}"`;
}

function alert(kind: AlertKind, id: string, subject: string, lines: string[], line: string): Alert {
  return { kind, identity: `alert:${kind}:${id}`, subject: `Keel: ${subject}`, text: lines.join('\n'), line };
}

/**
 * The alert a finished run raises, or null: a triggered run that failed is `triggeredRunFailed`
 * (its escalation is part of it, one alert per failure), any other run that escalated is `escalation`.
 */
export function alertOfRun(run: RunSummary, triggered: boolean, scrub: (t: string) => string): Alert | null {
  if (run.status !== 'failed' && run.status !== 'budget_exceeded') return null;
  const why = run.escalation ?? run.error;
  const reason = why ? quote(why, scrub) : '(no reason given)';
  const act = [HOW_TO_ACT, `  keel show ${run.id}`, `  keel run ${run.runbook}   (to run it again)`];
  if (triggered) {
    return alert(
      'triggeredRunFailed',
      run.id,
      `triggered run of ${run.runbook} failed`,
      [
        `A run of runbook ${run.runbook} started by its trigger failed (${run.status}).`,
        '',
        `Run: ${run.id}`,
        `Reason: ${reason}`,
        '',
        ...act,
      ],
      `${run.runbook} run ${run.id} (${run.status})`,
    );
  }
  if (!run.escalation) return null;
  return alert(
    'escalation',
    run.id,
    `${run.runbook} escalated to you`,
    [
      `Runbook ${run.runbook} could not finish on its own and escalated (${run.status}).`,
      '',
      `Run: ${run.id}`,
      `Escalation: ${reason}`,
      '',
      ...act,
    ],
    `${run.runbook} run ${run.id}`,
  );
}

/** A breaker that is open now: one alert per opening (its retry time tells openings apart). */
export function alertOfBreaker(breaker: BreakerState): Alert | null {
  if (breaker.name.startsWith('connector:')) return alertOfConnectorBreaker(breaker);
  if (breaker.state !== 'open' || !breaker.retryAt) return null;
  const what = breaker.name.startsWith('runbook:')
    ? `runbook ${breaker.name.slice('runbook:'.length)}`
    : `model endpoint ${breaker.name.slice('endpoint:'.length)}`;
  return alert(
    'breakerOpened',
    `${breaker.name}:${breaker.retryAt}`,
    `circuit breaker opened for ${what}`,
    [
      `The circuit breaker of ${what} opened after ${breaker.failures} failure(s) in a row.`,
      `Keel refuses new calls until ${breaker.retryAt}, then lets one trial through.`,
      '',
      HOW_TO_ACT,
      '  keel status   (breakers and quotas)',
      '  keel runs',
    ],
    `${what} until ${breaker.retryAt}`,
  );
}

/** A connector's breaker, opened by a failed drift probe: it stays open until a probe passes. */
function alertOfConnectorBreaker(breaker: BreakerState): Alert | null {
  if (breaker.state !== 'open') return null;
  const name = breaker.name.slice('connector:'.length);
  const reason = breaker.reason ?? 'its drift probe failed';
  return alert(
    'breakerOpened',
    `${breaker.name}:${reason}`,
    `circuit breaker opened for connector ${name}`,
    [
      `The drift probe of the connector ${name} failed, so Keel refuses its actions: ${reason}.`,
      'It closes when a probe passes (the next scheduled one, or one you run).',
      '',
      HOW_TO_ACT,
      `  keel connectors check ${name}`,
      '  keel connectors',
    ],
    `connector ${name}`,
  );
}

/** A quota used up: one alert per agent, period and period start. */
export function alertOfQuota(quota: QuotaState, periodStart: string): Alert | null {
  if (quota.state !== 'exceeded') return null;
  const spent =
    quota.maxUsd !== null
      ? `$${quota.spentUsd.toFixed(4)} of $${quota.maxUsd}`
      : `${quota.tokens} of ${quota.maxTokens} tokens`;
  return alert(
    'quotaHit',
    `${quota.agent}:${quota.period}:${periodStart}`,
    `${quota.period === 'day' ? 'daily' : 'monthly'} quota of ${quota.agent} used up`,
    [
      `The ${quota.period === 'day' ? 'daily' : 'monthly'} spend quota of agent ${quota.agent} is used up (${spent}).`,
      `New runs of it are refused until the ${quota.period} ends.`,
      '',
      'To act: raise quotas in keel.yaml, or wait for the period to end;',
      '  keel status   (shows quotas)',
    ],
    `${quota.agent} (${spent})`,
  );
}

/** A proposal that waited longer than the operator allows: one alert per approval. */
export function alertOfWaiting(proposal: Proposal, hours: number, scrub: (t: string) => string): Alert {
  return alert(
    'approvalWaiting',
    proposal.id,
    `approval waiting for ${proposal.runbook}`,
    [
      `A proposal of runbook ${proposal.runbook} has waited for your decision since ${proposal.createdAt} (more than ${hours} hour(s)).`,
      '',
      `Approval: ${proposal.id}`,
      `Run: ${proposal.runId}`,
      `Summary: ${quote(proposal.summary, scrub)}`,
      '',
      'To act: open it from the Approvals list of the Keel sidebar in VS Code (Approve, Reject or Edit), or run',
      `  keel approvals   then   keel approve ${proposal.id}   or   keel reject ${proposal.id} -r REASON`,
    ],
    `${proposal.runbook} approval ${proposal.id}`,
  );
}

/** Alerts folded while the interval ran, as lines; the count of those not listed is stated. */
export function digestLines(folded: readonly Pick<Alert, 'line'>[], limit = 20): string[] {
  const shown = folded.slice(0, limit).map((a) => `  - ${a.line}`);
  const rest = folded.length - shown.length;
  return rest > 0 ? [...shown, `  … and ${rest} more not listed here.`] : shown;
}

/**
 * An eval that drifted from its baseline: one alert per eval, naming the cases that changed. Case
 * names come from the operator's test file; model ids from the endpoint, so they are quoted.
 */
export function alertOfDrift(drift: EvalDrift, scrub: (t: string) => string): Alert {
  const lines = drift.cases.map((c) => {
    const parts: string[] = [];
    if (c.score !== c.baselineScore)
      parts.push(`score ${c.baselineScore.toFixed(2)} -> ${c.score.toFixed(2)}`);
    if (c.model !== c.baselineModel)
      parts.push(`model ${quote(c.baselineModel ?? '-', scrub)} -> ${quote(c.model ?? '-', scrub)}`);
    return `  - ${quote(c.case, scrub)}: ${parts.join(', ')}`;
  });
  return alert(
    'evalDrift',
    `${drift.runbook}:${drift.tier}:${drift.at}`,
    `eval drift in ${drift.runbook} (${drift.tier})`,
    [
      `The eval of runbook ${drift.runbook} on tier ${drift.tier} at ${drift.at} drifted from its baseline of ${drift.baselineAt} (tolerance ${drift.tolerance}):`,
      ...lines,
      '',
      'To act: compare with "keel report", run "keel eval ' + drift.runbook + '" again, or accept the new',
      `behaviour as the baseline with   keel eval ${drift.runbook} --tier ${drift.tier} --baseline`,
    ],
    `${drift.runbook} (${drift.tier}): ${drift.cases.length} case(s) drifted`,
  );
}
