/**
 * Templates and conditions in runbooks: Liquid (liquidjs), a template language that never runs
 * JavaScript and, with `ownPropertyOnly`, cannot reach prototypes. `{{ steps.plan.output }}` alone
 * yields the value itself (an object stays an object); text around it yields a string, objects
 * inside it written as JSON. These render in the calling thread: the daemon calls them through
 * templates.ts, which runs them on its worker thread.
 */
import type * as LiquidJs from 'liquidjs';
import type { Liquid } from 'liquidjs';

/**
 * Bounds on one template, enforced by liquidjs itself: its length, its render time, and what it
 * may allocate (`{% for i in (1..100000000) %}` fails at once instead of running for minutes).
 * Rendering runs on a worker thread with a deadline as well (templates.ts).
 */
export const TEMPLATE_LIMITS = {
  parseLimit: 1_000_000,
  renderLimit: 2_000,
  memoryLimit: 16_000_000,
};

let engine: Liquid | null = null;

/**
 * The Liquid engine, made at its first use rather than when the module loads: making one asks the
 * system for its locale (Intl), 30-60 ms that a `keel` command whose runbooks hold no template
 * need not pay before its first step (issue 14); and so is the library, whose loading costs 5-15 ms.
 */
function liquid(): Liquid {
  if (engine) return engine;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- bundled, loaded late (issue 14)
  const { Liquid } = require('liquidjs') as typeof LiquidJs;
  engine = new Liquid({
    ...TEMPLATE_LIMITS,
    ownPropertyOnly: true,
    strictFilters: true,
    outputEscape: (value: unknown): string =>
      typeof value === 'object' && value !== null
        ? JSON.stringify(value)
        : String((value as string | number | boolean | undefined) ?? ''),
  });
  // Liquid can read template files from disk (include, render, layout): a runbook must never pull a
  // workspace file (.env, .git/config) into a prompt that way, so those tags do not exist here.
  for (const tag of ['include', 'render', 'layout']) {
    engine.registerTag(tag, {
      parse() {
        throw new Error(
          `{% ${tag} %} is not available in runbooks: read files with a retrieve step or memory.read`,
        );
      },
      render() {
        return '';
      },
    });
  }
  return engine;
}

/**
 * The expression of a template that is one bare `{{ expression }}` (spaces and `-` trim marks
 * around it allowed), or null. String checks, not a regular expression: a pattern of several
 * optional-space groups backtracks for minutes on a long run of spaces in a hostile runbook.
 */
export function singleExpression(template: string): string | null {
  const text = template.trim();
  if (text.length < 5 || !text.startsWith('{{') || !text.endsWith('}}')) return null;
  let inner = text.slice(2, -2);
  if (inner.startsWith('-')) inner = inner.slice(1);
  if (inner.endsWith('-')) inner = inner.slice(0, -1);
  inner = inner.trim();
  return inner === '' || inner.includes('{') || inner.includes('}') ? null : inner;
}

export type Scope = Record<string, unknown>;

/** Renders a template against a scope: one bare expression gives its value, anything else text. */
export function renderTemplate(template: string, scope: Scope): unknown {
  const single = singleExpression(template);
  if (single && !single.includes('|')) return liquid().evalValueSync(single, scope) ?? null;
  return liquid().parseAndRenderSync(template, scope);
}

/** Renders a template to text (a value becomes JSON unless it is a string already). */
export function renderText(template: string, scope: Scope): string {
  const value = renderTemplate(template, scope);
  if (typeof value === 'string') return value;
  return value === null || value === undefined ? '' : JSON.stringify(value);
}

/** Renders every string inside a value (objects and arrays walked), leaving other values alone. */
export function renderDeep(value: unknown, scope: Scope): unknown {
  if (typeof value === 'string') return renderTemplate(value, scope);
  if (Array.isArray(value)) return value.map((item) => renderDeep(item, scope));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderDeep(item, scope)]));
  }
  return value;
}

/** Evaluates a condition with Liquid's truthiness (only false, nil and undefined are false). */
export function evaluateCondition(expression: string, scope: Scope): boolean {
  const value: unknown = liquid().evalValueSync(expression, scope);
  return value !== false && value !== null && value !== undefined;
}

/** Why a template does not parse, or null when it does. */
export function templateError(template: string): string | null {
  // Text without a `{` holds no tag and no output, so Liquid reads it as plain text and it parses
  // whatever it says (within the length limit): checking it needs no engine.
  if (!template.includes('{') && template.length <= TEMPLATE_LIMITS.parseLimit) return null;
  try {
    liquid().parse(template);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Why a condition does not parse, or null when it does. */
export function conditionError(expression: string): string | null {
  return templateError(`{% if ${expression} %}{% endif %}`);
}
