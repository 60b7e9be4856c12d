/**
 * Who decides a connector action: the first rule of keel.yaml's `approvals.actions` that matches
 * the action and whose argument tests all hold; without one, the action's risk. `read` runs at
 * once; `internal` is left to the file rules only for a connector whose writes are file changes
 * (`fs.outbox`, `files`), and otherwise asks like `external` and `irreversible`: an action that
 * changes something outside the workspace files (a mail moved, an MCP tool classed internal) never
 * runs unchecked without a rule that says so. Rules read the arguments the action is called with,
 * after validation, never what a model says about them, as the action's `policy` presents them
 * (email.send: `to` is every recipient); an action whose `policy` says `ask` is never allowed at
 * once, whatever the rule, and an `irreversible` one is allowed only by a rule naming it exactly.
 */
import picomatch from 'picomatch';
import type { ActionRule, ArgumentTest, WorkspaceConfig } from '@keel/schemas';
import type { PolicyView, Risk } from './sdk';

export interface ActionDecision {
  /** `files`: an internal action whose writes the file rules and file proposals govern (fs.outbox). */
  decide: 'allow' | 'ask' | 'deny' | 'files';
  /** The rule that decided, in words, for the proposal, the journal and the failure. */
  rule: string;
}

export function decideAction(
  connector: string,
  action: string,
  risk: Risk,
  input: unknown,
  approvals: Pick<WorkspaceConfig['approvals'], 'actions' | 'lists'>,
  /** Whether the connector's writes are workspace file changes the file rules govern (fs.outbox). */
  writesFiles = false,
  policy?: (input: unknown) => PolicyView,
  /** The run was started by an event: an `allow` rule holds only when it says `events: true`. */
  fromEvent = false,
): ActionDecision {
  const view = policy?.(input) ?? { arguments: input };
  const allow = (why: string): ActionDecision =>
    view.ask ? { decide: 'ask', rule: `${why}, but ${view.ask}` } : { decide: 'allow', rule: why };
  const rule = approvals.actions.find(
    (r) => actionMatches(r.action, connector, action) && conditionsHold(r, view.arguments, approvals.lists),
  );
  if (rule) {
    if (rule.decide === 'allow' && fromEvent && rule.events !== true) {
      return {
        decide: 'ask',
        rule: `${describeActionRule(rule)}, but not for a run started by an event (add "events: true" to the rule to allow that)`,
      };
    }
    if (rule.decide === 'allow' && risk === 'irreversible' && rule.action !== `${connector}.${action}`) {
      // What cannot be taken back is allowed only by a rule that names it, never by a wildcard
      // written for the connector's other actions.
      return {
        decide: 'ask',
        rule:
          `${describeActionRule(rule)}, but ${connector}.${action} cannot be undone: only a rule naming it ` +
          `("action: ${connector}.${action}") allows it without asking`,
      };
    }
    return rule.decide === 'allow'
      ? allow(describeActionRule(rule))
      : { decide: rule.decide, rule: describeActionRule(rule) };
  }
  switch (risk) {
    case 'read':
      return allow('risk read: runs at once');
    case 'internal':
      return writesFiles
        ? { decide: 'files', rule: 'risk internal: the file rules of keel.yaml decide' }
        : { decide: 'ask', rule: 'risk internal: asks unless an approvals.actions rule allows it' };
    case 'external':
      return { decide: 'ask', rule: 'risk external: asks unless an approvals.actions rule allows it' };
    case 'irreversible':
      return { decide: 'ask', rule: 'risk irreversible: asks unless an approvals.actions rule allows it' };
  }
}

/** `email.send ask when to notIn trustedDomains`. */
export function describeActionRule(rule: ActionRule): string {
  const tests = Object.entries(rule.when).flatMap(([field, test]) =>
    Object.entries(test).map(
      ([op, value]) => `${field} ${op} ${Array.isArray(value) ? `[${value.join(', ')}]` : String(value)}`,
    ),
  );
  const events = rule.events ? ' (events too)' : '';
  return `${rule.action} ${rule.decide}${tests.length > 0 ? ` when ${tests.join(' and ')}` : ''}${events}`;
}

/** `email.send`, `email.*`, `*.send`, `*`-prefixed; the connector part is all before the last dot. */
function actionMatches(pattern: string, connector: string, action: string): boolean {
  const dot = pattern.lastIndexOf('.');
  const [c, a] = [pattern.slice(0, dot), pattern.slice(dot + 1)];
  return (c === '*' || c === connector) && (a === '*' || a === action);
}

function conditionsHold(rule: ActionRule, input: unknown, lists: Record<string, string[]>): boolean {
  return Object.entries(rule.when).every(([field, test]) => testHolds(test, valueAt(input, field), lists));
}

export function valueAt(input: unknown, path: string): unknown {
  let value = input;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Whether a value passes a test of an action rule (or of an event trigger's filter). */
export function testHolds(test: ArgumentTest, value: unknown, lists: Record<string, string[]>): boolean {
  // A list-valued argument (`to: [a, b]`) passes `in` only when every item is in the list, and
  // `notIn` when any item is outside it: one untrusted recipient is enough to ask.
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  const listOf = (spec: string | string[]): string[] => (Array.isArray(spec) ? spec : (lists[spec] ?? []));
  if (test.equals !== undefined && !values.every((v) => v === test.equals)) return false;
  if (test.in !== undefined) {
    const list = listOf(test.in);
    if (values.length === 0 || !values.every((v) => inList(v, list))) return false;
  }
  if (test.notIn !== undefined) {
    const list = listOf(test.notIn);
    if (!values.some((v) => !inList(v, list))) return false;
  }
  if (
    test.matches !== undefined &&
    !values.every((v) => typeof v === 'string' && picomatch.isMatch(v, test.matches!))
  )
    return false;
  const numbers = values.map((v) => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN));
  const compare = (bound: number | undefined, holds: (n: number, b: number) => boolean): boolean =>
    bound === undefined || numbers.every((n) => !Number.isNaN(n) && holds(n, bound));
  return (
    compare(test.gt, (n, b) => n > b) &&
    compare(test.gte, (n, b) => n >= b) &&
    compare(test.lt, (n, b) => n < b) &&
    compare(test.lte, (n, b) => n <= b)
  );
}

/**
 * Whether a value is in a list: equal (ignoring case), or an email address whose domain is an
 * entry (`dana@acme.com` is in `[acme.com]`; so is `Dana <dana@mail.acme.com>`).
 */
function inList(value: unknown, list: string[]): boolean {
  if (typeof value !== 'string' && typeof value !== 'number') return false;
  const text = String(value).trim().toLowerCase();
  const address = /<([^<>]+)>\s*$/.exec(text)?.[1] ?? text;
  const domain = address.includes('@') ? address.slice(address.lastIndexOf('@') + 1) : null;
  return list.some((entry) => {
    const wanted = entry.trim().toLowerCase().replace(/^@/, '');
    return (
      wanted === text ||
      wanted === address ||
      (domain !== null && (domain === wanted || domain.endsWith(`.${wanted}`)))
    );
  });
}
