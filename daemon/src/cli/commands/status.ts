/** `keel status [--json]`. */
import type { Command } from 'commander';
import { StatusRequest, trustStanding, type DaemonStatus } from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import { formatDuration, printJson } from '../format';
import type { CliContext } from '../context';

export function registerStatus(program: Command, context: CliContext): void {
  program
    .command('status')
    .description("show the workspace's daemon (running or not) and whether keel.yaml is valid")
    .option('--json', 'print the status as JSON')
    .action(async (options: { json?: boolean }) => {
      const workspace = resolveWorkspace(context.workspaceOption());
      const status = await withWorkspace(workspace, context.log, ({ client }) =>
        client.request(StatusRequest),
      );
      if (options.json) printJson(status);
      else process.stdout.write(describeStatus(status));
      if (status.config === 'invalid') process.exitCode = 1;
    });
}

export function describeStatus(status: DaemonStatus): string {
  const daemon =
    status.mode === 'daemon'
      ? `running (pid ${status.pid}, up ${formatDuration(status.uptimeMs)}, socket ${status.socketPath})`
      : 'not running (this answer came from a daemon started for this command)';
  const config = {
    missing: 'no keel.yaml: run "keel init" to make this folder a Keel workspace',
    valid: 'keel.yaml is valid',
    invalid: `keel.yaml has ${status.problems.length} problem(s):`,
  }[status.config];
  const lines = [
    `Keel ${status.version} · ${status.workspace}`,
    `  daemon  ${daemon}`,
    `  config  ${config}`,
    ...status.problems.map((p) => `    ${p.path}:${p.line}:${p.column}  ${p.message}`),
    ...(status.trust
      ? [
          `  trust   ${trustStanding(status.trust)}: ${status.trust.summary}` +
            (status.trust.trusted ? '' : ' Review it with "keel trust".'),
        ]
      : []),
  ];
  return lines.join('\n') + '\n';
}
