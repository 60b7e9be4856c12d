/** `keel init [dir]`. */
import { mkdir, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { WorkspaceInitRequest, type InitResult } from '@keel/schemas';
import { withWorkspace } from '../connect';
import { printJson } from '../format';
import type { CliContext } from '../context';

export function registerInit(program: Command, context: CliContext): void {
  program
    .command('init')
    .description('make a folder a Keel workspace: keel.yaml, memory/, runbooks/, .gitignore, git repository')
    .argument('[dir]', 'the folder to initialize (created if missing)', '.')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, options: { json?: boolean }) => {
      await mkdir(resolve(dir), { recursive: true });
      const workspace = await realpath(resolve(dir));
      const result = await withWorkspace(workspace, context.log, ({ client }) =>
        client.request(WorkspaceInitRequest),
      );
      if (options.json) printJson(result);
      else printInitResult(result);
    });
}

function printInitResult(result: InitResult): void {
  const changed = result.created.length + result.updated.length > 0 || result.gitInitialized;
  const lines: string[] = [];
  if (changed) {
    lines.push(`Initialized a Keel workspace in ${result.workspace}`);
    for (const path of result.created) lines.push(`  created  ${path}`);
    for (const path of result.updated) lines.push(`  updated  ${path} (added .keel/)`);
    if (result.gitInitialized) lines.push('  created  a git repository (git init)');
    for (const path of result.kept) lines.push(`  kept     ${path} (already there)`);
    lines.push('Next: open this folder in VS Code, or run "keel status" in it.');
    lines.push('Before agents run or anything is sent, Keel asks you to trust the workspace ("keel trust").');
  } else {
    lines.push(`Nothing to do: ${result.workspace} is already a Keel workspace.`);
    lines.push(`  kept     ${result.kept.join(', ')}`);
  }
  for (const warning of result.warnings) lines.push(`warning: ${warning}`);
  process.stdout.write(lines.join('\n') + '\n');
}
