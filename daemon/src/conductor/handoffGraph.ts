/**
 * Which runbooks hand off to which (`runbook` steps, agents' `runbooks:`), checked across the
 * runbooks folder: a hand-off to a runbook that does not exist, and runbooks that hand off in a
 * cycle (A hands off to B, B to A: a run that never ends) are problems at the step that names them.
 */
import type { Problem, Runbook } from '@keel/schemas';
import { problemAt } from '../files/yamlProblems';

export interface HandoffNode {
  path: string;
  text: string;
  runbook: Runbook;
}

interface Edge {
  target: string;
  where: (string | number)[];
}

export function handoffEdges(runbook: Runbook): Edge[] {
  const edges: Edge[] = [];
  runbook.steps.forEach((step, index) => {
    if (step.type === 'runbook') edges.push({ target: step.runbook, where: ['steps', index, 'runbook'] });
    if (step.type === 'agent') {
      step.runbooks.forEach((target, at) => edges.push({ target, where: ['steps', index, 'runbooks', at] }));
    }
  });
  return edges;
}

/**
 * The problems of one runbook's hand-offs, given every runbook by name (null: a file by that name
 * that does not parse now, whose own problems say why).
 */
export function handoffProblems(node: HandoffNode, all: ReadonlyMap<string, HandoffNode | null>): Problem[] {
  const problems: Problem[] = [];
  const name = node.runbook.name;
  const graph = new Map(all);
  graph.set(name, node);
  for (const edge of handoffEdges(node.runbook)) {
    if (!graph.has(edge.target)) {
      const known = [...graph.keys()].filter((n) => n !== name).join(', ') || 'none';
      problems.push(
        problemAt(
          node.text,
          edge.where,
          `no runbook named "${edge.target}" to hand off to (runbooks: ${known})`,
          node.path,
        ),
      );
      continue;
    }
    const back = pathTo(edge.target, name, graph);
    if (back) {
      problems.push(
        problemAt(
          node.text,
          edge.where,
          `runbooks hand off in a cycle (${[name, ...back].join(' → ')}): a run would never end`,
          node.path,
        ),
      );
    }
  }
  return problems;
}

/** A chain of hand-offs from `from` to `to` (both included), or null when there is none. */
function pathTo(from: string, to: string, graph: ReadonlyMap<string, HandoffNode | null>): string[] | null {
  const seen = new Set<string>();
  const walk = (at: string): string[] | null => {
    if (at === to) return [at];
    if (seen.has(at)) return null;
    seen.add(at);
    const node = graph.get(at);
    if (!node) return null;
    for (const edge of handoffEdges(node.runbook)) {
      const rest = walk(edge.target);
      if (rest) return [at, ...rest];
    }
    return null;
  };
  return walk(from);
}
