/** `keel trust`: show what this workspace wants to do on your behalf, and grant or revoke trust. */
import type { Command } from 'commander';
import { TrustRevokeRequest, TrustStateRequest, trustStanding } from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import type { CliContext } from '../context';
import { describeTrust, ensureTrusted } from '../trustPrompt';

export function registerTrust(program: Command, context: CliContext): void {
  program
    .command('trust')
    .description(
      'review what this workspace would send and start on its own, and trust it (asks; --yes for scripts)',
    )
    .option('--show', 'only show what the workspace wants and what you allowed')
    .option('--revoke', 'take trust back: nothing is sent or run until you trust it again')
    .option('--json', 'print the trust state as JSON')
    .action(async (options: { show?: boolean; revoke?: boolean; json?: boolean }) => {
      const workspace = resolveWorkspace(context.workspaceOption());
      const state = await withWorkspace(workspace, context.log, async ({ client }) => {
        if (options.revoke) return client.request(TrustRevokeRequest, {});
        if (options.show) return client.request(TrustStateRequest, {});
        return ensureTrusted(client, { yes: context.yes(), command: 'keel trust', triggers: true });
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${state.workspace}: ${trustStanding(state)}${state.grantedAt ? ` (since ${state.grantedAt})` : ''}\n` +
          `${describeTrust(state).join('\n')}\n${state.summary}\n`,
      );
    });
}
