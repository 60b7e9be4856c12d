/**
 * The dashboard's "Budget advice" card: the agents dearest per successful run first (with their
 * rework), then where moving quota would have covered runs a quota refused. Workspace text goes
 * in `textContent` only.
 */
import type { BudgetAdvice } from '@keel/schemas';
import { formatUsd } from '../../runs/runList';
import { element } from '../../webviewHost/webview/dom';

export function budgetAdviceCard(advice: BudgetAdvice | null): HTMLElement[] {
  if (!advice) return [element('p', 'muted', 'No advice: the daemon did not answer.')];
  const ranked = element('ol', 'advice-agents');
  for (const agent of advice.agents) {
    const perSuccess =
      agent.costPerSuccessUsd === null
        ? `${formatUsd(agent.costUsd)} spent, no successful run`
        : `${formatUsd(agent.costPerSuccessUsd)} per successful run (${agent.succeeded} of ${agent.runs})`;
    const rework = agent.reworkRate === null ? '' : `, rework ${Math.round(agent.reworkRate * 100)}%`;
    ranked.append(element('li', 'advice-agent', `${agent.agent}: ${perSuccess}${rework}`));
  }
  if (advice.agents.length === 0) ranked.append(element('li', 'muted', 'No runs in this span.'));
  const moves = advice.moves.map((move) => element('p', 'advice-move', `Quota: ${move.text}.`));
  if (moves.length === 0)
    moves.push(element('p', 'muted', 'No run was refused by a quota in its current period.'));
  return [ranked, ...moves];
}
