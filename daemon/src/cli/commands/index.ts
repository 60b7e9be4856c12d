/** `keel index [--rebuild]`: bring the memory index up to date (or rebuild it), with progress. */
import type { Command } from 'commander';
import {
  IndexChangedNotification,
  IndexRebuildRequest,
  IndexSyncRequest,
  type IndexStatus,
} from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import { formatDuration, printJson } from '../format';
import type { CliContext } from '../context';
import { ProgressLine } from '../progress';

export function registerIndex(program: Command, context: CliContext): void {
  program
    .command('index')
    .description('index the workspace memory and exit when the index matches the files')
    .option('--rebuild', 'throw the index away and build it again from the files')
    .option('--json', 'print the result as JSON')
    .action(async (options: { rebuild?: boolean; json?: boolean }) => {
      const workspace = resolveWorkspace(context.workspaceOption());
      const progress = new ProgressLine(process.stderr);
      const result = await withWorkspace(workspace, context.log, async ({ client }) => {
        client.onNotification(IndexChangedNotification, (status) =>
          progress.update(describeProgress(status)),
        );
        try {
          return await client.request(options.rebuild ? IndexRebuildRequest : IndexSyncRequest);
        } finally {
          progress.done();
        }
      });
      if (options.json) {
        printJson(result);
      } else {
        const lines = [
          `Index of ${workspace} matches the files: ${result.documents} notes, ${result.chunks} chunks ` +
            `(${result.indexed} indexed, ${result.removed} removed, in ${formatDuration(result.tookMs, true)}).`,
          ...result.problems.map(
            (p) => `  ${p.severity.padEnd(7)} ${p.path}:${p.line}:${p.column} ${p.message}`,
          ),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (result.problems.some((p) => p.severity === 'error')) process.exitCode = 1;
    });
}

function describeProgress(status: IndexStatus): string | null {
  const progress = status.progress;
  if (!progress) return null;
  if (progress.phase === 'scanning') return 'Scanning the workspace…';
  const percent = progress.total > 0 ? Math.floor((progress.done / progress.total) * 100) : 0;
  return `Indexing ${progress.done.toLocaleString('en')}/${progress.total.toLocaleString('en')} files (${percent}%)`;
}
