/**
 * `keel why PATH [--json]`: the runs that read a note (which version, and whether it is still the
 * one on disk) and the changes linked to it: proposed by those runs, or made to the note itself.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { MemoryWhyRequest, type ResultOf } from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import { printJson } from '../format';
import type { CliContext } from '../context';

export function registerWhy(program: Command, context: CliContext): void {
  program
    .command('why')
    .description('list the runs that used a note (and which version) and the changes built on it')
    .argument('<path>', 'the note, relative to the workspace (or a path to it from here)')
    .option('--json', 'print JSON')
    .action(async (path: string, options: { json?: boolean }) => {
      const workspace = resolveWorkspace(context.workspaceOption());
      const answer = await withWorkspace(workspace, context.log, ({ client }) =>
        client.request(MemoryWhyRequest, { path: notePath(workspace, path) }),
      );
      if (options.json) printJson(answer);
      else process.stdout.write(describeWhy(answer));
    });
}

/**
 * The path as the daemon takes it: relative to the workspace. A path from the current folder that
 * lands inside the workspace is made relative to it; any other is passed as given, and the daemon
 * refuses what escapes the workspace.
 */
export function notePath(workspace: string, path: string): string {
  const inside = relative(workspace, resolve(path));
  if (inside !== '' && !inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside))
    return inside.split(sep).join('/');
  return path;
}

export function describeWhy(answer: ResultOf<typeof MemoryWhyRequest>): string {
  const lines = [
    `${plain(answer.path)}: ${answer.blob ? `blob ${answer.blob.slice(0, 12)}` : 'no such file now'}`,
  ];
  if (answer.runs.length === 0) lines.push('No run has read it.');
  else lines.push('', `Used by ${answer.runs.length} run${answer.runs.length === 1 ? '' : 's'}:`);
  for (const run of answer.runs) {
    const version = run.blob ? run.blob.slice(0, 12) : 'unknown version';
    const state = run.blob === null ? '' : run.current ? ' (current)' : ' (changed since: possibly stale)';
    lines.push(
      `  ${run.runId}  ${run.runbook}  ${run.startedAt}  ${run.status}  read ${version}${state}  steps ${run.steps.join(', ')}`,
    );
  }
  if (answer.changes.length > 0) lines.push('', 'Changes:');
  for (const change of answer.changes) {
    const commit = change.commit ? `commit ${change.commit.slice(0, 12)}` : change.status;
    const relation = change.relation === 'changed' ? 'changed this note' : `from run ${change.runId}`;
    lines.push(`  ${change.proposalId}  ${commit}  ${relation}: ${plain(change.summary)}`);
  }
  return lines.join('\n') + '\n';
}

/** Text from notes and models shown on a terminal: control characters (escape sequences) removed. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
