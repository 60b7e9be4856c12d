/**
 * Which actions of one connector instance the workspace's runbooks use, and where: a drift probe
 * checks them against what the server offers now, so a tool renamed or whose arguments changed
 * fails the probe naming the runbook, before a run meets it.
 */
import type { Runbook } from '@keel/schemas';
import type { ActionUse } from './sdk';

/** A parsed runbook and its file, workspace-relative. */
export interface RunbookFile {
  path: string;
  runbook: Runbook;
}

/** Every `connector` step and agent tool of `runbooks` that names an action of `connector`. */
export function actionUses(runbooks: readonly RunbookFile[], connector: string): ActionUse[] {
  const uses: ActionUse[] = [];
  const prefix = `${connector}.`;
  for (const { path, runbook } of runbooks) {
    for (const step of runbook.steps) {
      if (step.type === 'connector' && step.use === connector) {
        uses.push({ runbook: path, step: step.id, action: step.action, args: Object.keys(step.with) });
      }
      if (step.type !== 'agent') continue;
      for (const tool of step.tools) {
        // `<connector>.<action>`: an action name has no dot, a connector name may (`fs.outbox`).
        const action = tool.startsWith(prefix) ? tool.slice(prefix.length) : '';
        if (action && !action.includes('.')) uses.push({ runbook: path, step: step.id, action, args: null });
      }
    }
  }
  return uses;
}
