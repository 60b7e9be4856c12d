/**
 * `keel gc [--dry-run] [--apply]`: what Keel's own records under `.keel/` hold past keel.yaml's
 * `retention.keel` (journals of finished runs, decided proposals) and unreferenced cassettes,
 * with sizes. A dry run is the default; `--apply` frees what can go (run summaries stay).
 */
import type { Command } from 'commander';
import { GcRequest, type GcItem } from '@keel/schemas';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import { printJson } from '../format';
import type { CliContext } from '../context';

export function registerGc(program: Command, context: CliContext): void {
  program
    .command('gc')
    .description("list (default) or free Keel's old run journals and decided proposals under .keel/")
    .option('--dry-run', 'only list what would be freed (the default)')
    .option('--apply', 'free it: journals and proposals go, run summaries stay for keel runs and keel report')
    .option('--json', 'print the result as JSON')
    .action(async (options: { dryRun?: boolean; apply?: boolean; json?: boolean }) => {
      if (options.dryRun && options.apply) {
        process.stderr.write('keel gc: give --dry-run or --apply, not both.\n');
        process.exitCode = 2;
        return;
      }
      const workspace = resolveWorkspace(context.workspaceOption());
      const result = await withWorkspace(workspace, context.log, ({ client }) =>
        client.request(GcRequest, { apply: options.apply === true }),
      );
      if (options.json) return printJson(result);
      process.stdout.write(describeGc(result.items, result.freeableBytes, result.applied));
    });
}

export function describeGc(items: readonly GcItem[], freeableBytes: number, applied: boolean): string {
  if (items.length === 0) return 'Nothing to free: .keel/ holds nothing past retention.keel.\n';
  const lines = items.map(
    (i) => `  ${i.kind.padEnd(9)} ${formatBytes(i.bytes).padStart(9)}  ${i.path}  (${i.reason})`,
  );
  const verb = applied ? 'Freed' : 'Would free';
  const hint = applied ? '' : ' Run "keel gc --apply" to free it.';
  return `${lines.join('\n')}\n${verb} ${formatBytes(freeableBytes)}.${hint}\n`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
