/**
 * One step of the timeline: a header button (aria-expanded) with its status and badges, and the
 * body it expands to: inputs, rendered prompt, output, model calls, memory read, child runs, side
 * effects, and "Take over from here" on a failed step of a run that can be taken over.
 */
import type { RunTrace, StepTrace } from '@keel/schemas';
import type { TimelineToHostMessage } from '@keel/schemas/src/webviews';
import { button, element } from '../../webviewHost/webview/dom';
import { canTakeOver, formatMs, formatUsd, STATUS_LABELS } from '../runList';
import { chatMessages, summarizeModelCalls, stepMarks } from '../timelineModel';
import { jsonTree } from './jsonTree';

export type Post = (message: TimelineToHostMessage) => void;

export function stepView(step: StepTrace, trace: RunTrace, expanded: boolean, post: Post): HTMLElement {
  const article = element('article', 'step');
  article.dataset.stepId = step.id;
  article.dataset.status = step.status;
  const bodyId = `step-body-${cssId(step.id)}`;
  const toggle = element('button', 'step-toggle');
  toggle.setAttribute('aria-expanded', String(expanded));
  toggle.setAttribute('aria-controls', bodyId);
  toggle.append(
    element('span', 'step-name', step.id),
    element('span', 'step-type', ` (${step.type})`),
    element('span', 'step-status', ` ${statusText(step)}`),
  );
  const summary = summarizeModelCalls(step.modelCalls);
  const facts = [
    step.durationMs !== null ? formatMs(step.durationMs) : null,
    summary.calls > 0
      ? `${summary.tokens.toLocaleString('en-US')} tokens, ${formatUsd(summary.costUsd)}`
      : null,
  ].filter((f) => f !== null);
  if (facts.length > 0) toggle.append(element('span', 'step-facts', ` · ${facts.join(' · ')}`));
  const marks = stepMarks(step, trace);
  for (const mark of marks) toggle.append(element('span', 'badge', mark));
  // The label a screen reader reads: the step, its status and its marks, without the figures.
  toggle.setAttribute(
    'aria-label',
    [`Step ${step.id}, ${step.type}, ${statusText(step)}`, ...marks].join(', '),
  );
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    body.hidden = !open;
  });
  const body = stepBody(step, trace, post);
  body.id = bodyId;
  body.hidden = !expanded;
  article.append(toggle, body);
  return article;
}

function stepBody(step: StepTrace, trace: RunTrace, post: Post): HTMLElement {
  const body = element('div', 'step-body');
  if (step.error) body.append(part('Error', pre(step.error)));
  if (step.status === 'failed' && canTakeOver(trace.run.status)) {
    body.append(
      button('Take over from here', `Take over run ${trace.run.id} from step ${step.id}`, () =>
        post({ type: 'takeOver', stepId: step.id }),
      ),
    );
  }
  if (step.attempts && step.attempts.length > 0) {
    const list = element('ol', 'attempts');
    for (const tried of step.attempts) {
      list.append(
        element(
          'li',
          '',
          `Attempt ${tried.attempt}: ${tried.status}${tried.error ? `: ${tried.error}` : ''}`,
        ),
      );
    }
    body.append(part('Attempts', list));
  }
  if (step.children && step.children.length > 0) body.append(part('Child runs', childRuns(step, post)));
  if (step.input !== null && step.input !== undefined) body.append(part('Inputs', jsonTree(step.input)));
  const prompt = step.modelCalls.map((call) => chatMessages(call.request)).find((m) => m !== null);
  if (prompt) {
    const list = element('div', 'prompt');
    for (const message of prompt) list.append(element('h4', '', message.role), pre(message.content));
    body.append(part('Rendered prompt', list));
  }
  if (step.output !== null && step.output !== undefined) body.append(part('Output', jsonTree(step.output)));
  if (step.modelCalls.length > 0) body.append(part('Model calls', modelCallsTable(step)));
  if (step.retrieved.length > 0) body.append(part('Memory read', memoryReads(step, post)));
  const effects = sideEffects(step, trace);
  if (effects) body.append(part('Side effects', effects));
  if (body.childElementCount === 0) body.append(element('p', 'muted', 'Nothing recorded for this step yet.'));
  return body;
}

function childRuns(step: StepTrace, post: Post): HTMLElement {
  const list = element('ul', 'children');
  for (const child of step.children ?? []) {
    const item = element('li', 'child-run');
    item.dataset.runId = child.runId;
    const status = child.status ? STATUS_LABELS[child.status] : 'under way';
    item.append(element('span', '', `${child.runbook} (${child.runId}): ${status} `));
    item.append(
      button('Open', `Open child run ${child.runId} of ${child.runbook}`, () =>
        post({ type: 'openRun', id: child.runId }),
      ),
    );
    list.append(item);
  }
  return list;
}

function modelCallsTable(step: StepTrace): HTMLElement {
  const table = element('table', 'model-calls');
  const head = element('tr');
  for (const title of [
    '#',
    'Tier',
    'Model',
    'Outcome',
    'Attempt',
    'Tokens in',
    'Tokens out',
    'Cost',
    'Latency',
  ]) {
    const th = element('th', '', title);
    th.scope = 'col';
    head.append(th);
  }
  table.append(head);
  step.modelCalls.forEach((call, index) => {
    const row = element('tr');
    for (const cell of [
      String(index + 1),
      call.tier,
      call.model,
      call.outcome,
      String(call.attempt),
      call.inputTokens.toLocaleString('en-US'),
      call.outputTokens.toLocaleString('en-US'),
      formatUsd(call.costUsd),
      formatMs(call.latencyMs),
    ]) {
      row.append(element('td', '', cell));
    }
    table.append(row);
  });
  return table;
}

function memoryReads(step: StepTrace, post: Post): HTMLElement {
  const list = element('ul', 'memory-reads');
  for (const chunk of step.retrieved) {
    const item = element('li');
    const location = `${chunk.path}:${chunk.startLine}-${chunk.endLine}`;
    item.append(
      button(location, `Open ${chunk.path} at line ${chunk.startLine}`, () =>
        post({ type: 'openNote', path: chunk.path, line: Math.max(1, Math.floor(chunk.startLine)) }),
      ),
      element('span', 'muted', ` score ${chunk.score.toFixed(3)}`),
    );
    list.append(item);
  }
  return list;
}

/** What the step did outside the run: a connector's call, and how compensation undid it. */
function sideEffects(step: StepTrace, trace: RunTrace): HTMLElement | null {
  const lines = (trace.compensation ?? []).filter((line) => line.stepId === step.id);
  if (step.type !== 'connector' && lines.length === 0) return null;
  const list = element('ul', 'side-effects');
  if (step.type === 'connector' && step.status === 'succeeded') {
    list.append(
      element('li', '', 'A connector action ran (its call is under Inputs, its answer under Output).'),
    );
  }
  for (const line of lines) {
    list.append(
      element(
        'li',
        '',
        `${line.connector}.${line.action} (${line.key}): ${line.outcome.replace('_', ' ')}${
          line.undo ? ` by ${line.undo}` : ''
        }${line.detail ? `: ${line.detail}` : ''}`,
      ),
    );
  }
  return list.childElementCount > 0 ? list : null;
}

function statusText(step: StepTrace): string {
  if (step.status === 'waiting_approval') return 'waiting for approval';
  if (step.status === 'waiting_operator') return 'waiting at a checkpoint';
  return step.status;
}

function part(title: string, content: HTMLElement): HTMLElement {
  const section = element('section', `part part-${cssId(title.toLowerCase())}`);
  section.append(element('h3', '', title), content);
  return section;
}

function pre(text: string): HTMLElement {
  return element('pre', '', text);
}

function cssId(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '-');
}
