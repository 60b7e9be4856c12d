/**
 * The order of a runbook's steps as a graph: each step needs the steps its `needs:` names, or,
 * without `needs:`, the step before it (so a runbook that never says `needs` runs in file order).
 * A step starts once everything it needs has ended; steps that do not need each other run at the
 * same time. Pure: the executor asks it what may start, the editor what is wrong.
 */

interface GraphStep {
  id: string;
  needs?: readonly string[] | undefined;
}

export interface StepGraphProblem {
  /** The step's index in the runbook. */
  index: number;
  /** The index within its `needs:` of the offending entry, when there is one. */
  need?: number;
  message: string;
}

export class StepGraph {
  /** Each step's direct needs, by id, in runbook order. */
  readonly needs: ReadonlyMap<string, readonly string[]>;
  private readonly order: readonly string[];

  constructor(steps: readonly GraphStep[]) {
    const needs = new Map<string, readonly string[]>();
    steps.forEach((step, index) => {
      needs.set(step.id, step.needs ?? (index > 0 ? [steps[index - 1]!.id] : []));
    });
    this.needs = needs;
    this.order = steps.map((step) => step.id);
  }

  /** Whether some step runs at the same time as another (a runbook with branches). */
  get branches(): boolean {
    return this.order.some((id, index) => {
      const needs = this.needs.get(id)!;
      return index > 0 ? needs.length !== 1 || needs[0] !== this.order[index - 1] : needs.length > 0;
    });
  }

  /**
   * The steps that may start now, in runbook order: not started, and everything they need has
   * ended (whether it succeeded or was skipped).
   */
  ready(ended: ReadonlySet<string>, started: ReadonlySet<string>): string[] {
    return this.order.filter(
      (id) => !started.has(id) && !ended.has(id) && this.needs.get(id)!.every((need) => ended.has(need)),
    );
  }

  /** Every step that has ended before `id` starts: what its templates may read as `steps.*`. */
  before(id: string): Set<string> {
    const seen = new Set<string>();
    const stack = [...(this.needs.get(id) ?? [])];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(this.needs.get(next) ?? []));
    }
    return seen;
  }

  /** Needs that name no step or the step itself, and cycles (each reported once, at its first step). */
  problems(steps: readonly GraphStep[]): StepGraphProblem[] {
    const problems: StepGraphProblem[] = [];
    const ids = new Set(this.order);
    steps.forEach((step, index) => {
      step.needs?.forEach((need, at) => {
        if (need === step.id) {
          problems.push({ index, need: at, message: `step "${step.id}" cannot need itself` });
        } else if (!ids.has(need)) {
          problems.push({
            index,
            need: at,
            message: `"${need}" is not a step of this runbook (steps: ${this.order.join(', ')})`,
          });
        }
      });
    });
    for (const cycle of this.cycles()) {
      const index = this.order.indexOf(cycle[0]!);
      problems.push({
        index,
        message: `steps need each other in a cycle, so none of them can start: ${[...cycle, cycle[0]].join(' needs ')}`,
      });
    }
    return problems;
  }

  /** Each cycle of needs once, starting at its earliest step in runbook order. */
  private cycles(): string[][] {
    const cycles: string[][] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (id: string): void => {
      state.set(id, 'open');
      path.push(id);
      for (const need of this.needs.get(id) ?? []) {
        if (!this.needs.has(need) || need === id) continue;
        const seen = state.get(need);
        if (seen === 'open') {
          const cycle = path.slice(path.indexOf(need));
          const first = this.order.find((step) => cycle.includes(step))!;
          const at = cycle.indexOf(first);
          cycles.push([...cycle.slice(at), ...cycle.slice(0, at)]);
        } else if (seen === undefined) {
          visit(need);
        }
      }
      path.pop();
      state.set(id, 'done');
    };
    for (const id of this.order) if (!state.has(id)) visit(id);
    return cycles;
  }
}
