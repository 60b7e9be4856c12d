/**
 * `keel connectors [list]` and `keel connectors check [name]`: where each connector keel.yaml names
 * stands, and its probe run now. `check` exits 1 when any connector is not ready, so scripts and CI
 * can gate on it; an untrusted connector is reported without anything being contacted.
 */
import type { Command } from 'commander';
import {
  ConnectorsCheckRequest,
  ConnectorsListRequest,
  describeConnectorState,
  type ConnectorInfo,
} from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import type { CliContext } from '../context';
import { formatDuration, printJson } from '../format';

export function registerConnectors(program: Command, context: CliContext): void {
  const workspace = (): string => resolveWorkspace(context.workspaceOption());
  const connectors = program
    .command('connectors')
    .description(
      'show the connectors keel.yaml names (state, last probe, last event, errors), or check them',
    );

  connectors
    .command('list', { isDefault: true })
    .description(
      'list each connector with its state, last probe, last event and last error; contacts nothing',
    )
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const { connectors: list } = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(ConnectorsListRequest, {}),
      );
      if (options.json) printJson(list);
      else process.stdout.write(describeConnectors(list, Date.now()) + '\n');
    });

  connectors
    .command('check')
    .description(
      'probe each connector (or the one named) now; exits 1 if any is not ready. ' +
        'Connectors of an untrusted workspace are not contacted: run "keel trust" first',
    )
    .argument('[name]', 'the connector name under connectors: in keel.yaml')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { json?: boolean }) => {
      const { connectors: checked } = await withWorkspace(workspace(), context.log, ({ client }) =>
        client.request(ConnectorsCheckRequest, name ? { name } : {}),
      );
      if (options.json) printJson(checked);
      else process.stdout.write(describeConnectors(checked, Date.now()) + '\n');
      if (checked.some((c) => c.state !== 'ready')) process.exitCode = 1;
    });
}

/** A table of the connectors, then each one's detail and error on lines of their own. */
export function describeConnectors(connectors: readonly ConnectorInfo[], now: number): string {
  if (connectors.length === 0) {
    return 'keel.yaml names no connectors. Add one under "connectors:" (for example: mail: { use: email@1, ... }).';
  }
  const header = ['NAME', 'USE', 'STATE', 'BREAKER', 'LAST PROBE', 'LAST EVENT'];
  const rows = connectors.map((c) => [
    c.name,
    c.use,
    describeConnectorState(c),
    c.breaker,
    c.lastProbe ? `${c.lastProbe.ok ? 'ok' : 'failed'} ${ago(c.lastProbe.at, now)}` : 'never',
    c.lastEventAt ? ago(c.lastEventAt, now) : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const table = [header, ...rows].map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  const details = connectors.flatMap((c) => [
    ...(c.lastProbe?.ok ? [`${c.name}: ${c.lastProbe.detail}`] : []),
    ...(c.lastProbe?.version ? [`${c.name}: server ${c.lastProbe.version}`] : []),
    ...(c.breaker === 'open'
      ? [`${c.name}: breaker open, its actions are refused until "keel connectors check ${c.name}" passes`]
      : []),
    ...(c.lastError ? [`${c.name}: ${c.lastError}`] : []),
  ]);
  return [...table, ...(details.length > 0 ? ['', ...details] : [])].join('\n');
}

function ago(at: string, now: number): string {
  const ms = Math.max(0, now - Date.parse(at));
  return ms < 1_000 ? 'just now' : `${formatDuration(ms)} ago`;
}
