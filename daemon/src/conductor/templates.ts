/**
 * How the daemon renders runbook templates and conditions: on a worker thread, within liquidjs's
 * limits (expressions.ts) and a deadline, so that no template (a loop of a hundred million turns,
 * a filter chain that builds gigabytes) stops the daemon or delays the emergency stop. A template
 * that fails fails its step with the reason.
 */
import { WorkerThread, WorkerTimeoutError } from '../runtime/workerThread';
import type { RenderMode } from '../runtime/workerTasks';
import { TEMPLATE_LIMITS, type Scope } from './expressions';
import { renderSimple } from './simpleTemplates';

export type { Scope } from './expressions';

/** A template renders in milliseconds; liquidjs's own render limit (2 s) usually stops it first. */
export const RENDER_TIMEOUT_MS = 5_000;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

let thread: WorkerThread | null = null;

async function render(template: unknown, scope: Scope, mode: RenderMode): Promise<unknown> {
  // Text without templates renders to itself: answered here, a step whose input holds none (a
  // connector writing fixed text) does not wait for the worker to load (issue 14). Conditions are
  // expressions, never plain text: they always go to the worker.
  if (mode !== 'condition' && withoutTemplates(template)) return copy(template);
  // Text around bare variable paths (a step's prompt naming the step before's output) is rendered
  // here, as Liquid would: one worker round trip less per step.
  const simple = mode === 'text' || mode === 'value' ? renderSimple(template, scope, mode) : null;
  if (simple) return copy(simple.value);
  thread ??= new WorkerThread({ name: 'templates', timeoutMs: RENDER_TIMEOUT_MS });
  try {
    return await thread.call('render', { template, scope, mode });
  } catch (error) {
    if (error instanceof WorkerTimeoutError) {
      throw new TemplateError(
        `the template took longer than ${RENDER_TIMEOUT_MS / 1000} s to render and was stopped`,
      );
    }
    throw new TemplateError(explain(error instanceof Error ? error.message : String(error)));
  }
}

/**
 * Starts the worker now (a daemon opening its conductor), so the first step of a run, often a
 * run resumed right after a restart, does not wait for the thread to load.
 */
export function warmTemplates(): void {
  void render('', {}, 'text').catch(() => undefined);
}

/** One bare expression gives its value; anything else renders to text. */
export function renderTemplate(template: string, scope: Scope): Promise<unknown> {
  return render(template, scope, 'value');
}

/** Renders to text (a value becomes JSON unless it is a string already). */
export async function renderText(template: string, scope: Scope): Promise<string> {
  return (await render(template, scope, 'text')) as string;
}

/** Renders every string inside a value (objects and arrays walked), leaving other values alone. */
export function renderDeep(value: unknown, scope: Scope): Promise<unknown> {
  return render(value, scope, 'deep');
}

/** Evaluates a condition with Liquid's truthiness (only false, nil and undefined are false). */
export async function evaluateCondition(expression: string, scope: Scope): Promise<boolean> {
  return (await render(expression, scope, 'condition')) === true;
}

/**
 * Whether every string in a value (objects and arrays walked, as renderDeep does) is plain text:
 * without a `{` there is no tag and no output, so Liquid renders it to itself, and within the
 * length limit it cannot fail.
 */
function withoutTemplates(value: unknown): boolean {
  if (typeof value === 'string') return !value.includes('{') && value.length <= TEMPLATE_LIMITS.parseLimit;
  if (Array.isArray(value)) return value.every(withoutTemplates);
  if (value && typeof value === 'object') return Object.values(value).every(withoutTemplates);
  return true;
}

/** A fresh copy, as the worker's answer is: the caller may change it without touching the runbook. */
function copy(value: unknown): unknown {
  return value === null || typeof value !== 'object' ? value : structuredClone(value);
}

/** liquidjs names the limit it hit; say it in the operator's words. */
function explain(message: string): string {
  if (/render limit exceeded/.test(message)) {
    return `the template took longer than ${TEMPLATE_LIMITS.renderLimit / 1000} s to render and was stopped (${message})`;
  }
  if (/limit exceeded/.test(message)) {
    return `the template is too large to render (${message}); a template may be ${TEMPLATE_LIMITS.parseLimit.toLocaleString('en')} characters long and produce about ${TEMPLATE_LIMITS.memoryLimit.toLocaleString('en')} characters`;
  }
  return message;
}
