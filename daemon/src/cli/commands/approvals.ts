/** `keel approvals`, `keel approve`, `keel reject`: deciding proposed changes from a terminal. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  ApprovalApproveRequest,
  ApprovalGetRequest,
  ApprovalRejectRequest,
  ApprovalsListRequest,
  type Proposal,
} from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import { ensureTrusted } from '../trustPrompt';
import type { CliContext } from '../context';
import { printJson } from '../format';

export function registerApprovals(program: Command, context: CliContext): void {
  const workspace = (): string => resolveWorkspace(context.workspaceOption());

  program
    .command('approvals')
    .description('list the changes waiting for your decision (--all: decided ones too)')
    .option('--all', 'include approved and rejected proposals')
    .option('--json', 'print JSON')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      const { approvals } = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(ApprovalsListRequest, options.all ? {} : { status: ['pending', 'stale'] }),
      );
      if (options.json) printJson(approvals);
      else
        process.stdout.write(
          approvals.length ? approvals.map(describe).join('\n') + '\n' : 'Nothing waits for approval.\n',
        );
    });

  program
    .command('approve')
    .description('apply a proposed change (all its files or none) and commit it to git')
    .argument('<id>', 'the proposal id (see "keel approvals")')
    .option(
      '--edited <file>',
      "apply your version of the (single-file) change, or of an action's review document, read from FILE",
    )
    .option('--json', 'print JSON')
    .action(async (id: string, options: { edited?: string; json?: boolean }) => {
      const cwd = process.env.INIT_CWD ?? process.cwd();
      const edited = options.edited ? await readFile(resolve(cwd, options.edited), 'utf8') : null;
      const proposal = await withWorkspace(workspace(), context.log, async ({ client }) => {
        await ensureTrusted(client, { yes: context.yes(), command: 'keel approve', triggers: false });
        if (edited === null) return client.request(ApprovalApproveRequest, { id });
        const { proposal: current } = await client.request(ApprovalGetRequest, { id });
        // An action proposal is edited as its review document (an email's headers and body).
        if (current.action) return client.request(ApprovalApproveRequest, { id, editedReview: edited });
        if (current.changes.length !== 1) {
          throw new Error(
            `proposal ${id} changes ${current.changes.length} files; --edited works on single-file proposals`,
          );
        }
        return client.request(ApprovalApproveRequest, { id, edited: { [current.changes[0]!.path]: edited } });
      });
      if (options.json) printJson(proposal);
      else {
        const commit = proposal.decision?.commit;
        process.stdout.write(
          `${proposal.id}: ${proposal.decision?.kind ?? proposal.status}, ${commit ? `committed as ${commit.slice(0, 10)}` : (proposal.decision?.reason ?? 'not committed (the workspace is not a git repository)')}\n`,
        );
      }
    });

  program
    .command('reject')
    .description('reject a proposed change; the run learns why')
    .argument('<id>', 'the proposal id (see "keel approvals")')
    .requiredOption('-r, --reason <text>', 'why, so the agent can act on it')
    .action(async (id: string, options: { reason: string }) => {
      const proposal = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(ApprovalRejectRequest, { id, reason: options.reason }),
      );
      process.stdout.write(`${proposal.id}: rejected\n`);
    });
}

function describe(proposal: Proposal): string {
  const action = proposal.action;
  const files = action
    ? `    ${action.risk.padEnd(6)} ${action.connector}.${action.action} (${action.rule})\n` +
      action.review.text
        .split('\n')
        .map((line) => `      | ${line}`)
        .join('\n')
    : proposal.changes.map((c) => `    ${c.action.padEnd(6)} ${c.path}`).join('\n');
  const flags = [
    proposal.status === 'stale'
      ? `STALE (${proposal.staleFiles.join(', ')} changed since; look again)`
      : proposal.status,
    ...(proposal.decision ? [decidedBy(proposal.decision)] : []),
    ...(proposal.protected ? ['protected'] : []),
  ].join(', ');
  return `${proposal.id}  ${proposal.runbook}  ${flags}\n  ${proposal.summary}\n${files}`;
}

/** Who decided, in words: the operator, or the keel.yaml rule that applied it unseen. */
function decidedBy(decision: NonNullable<Proposal['decision']>): string {
  return decision.kind === 'policy'
    ? `applied without review by the rule "${decision.rule ?? 'unnamed'}"`
    : decision.kind;
}
