/**
 * `keel run` with no daemon running opens memory only for a run that searches it: a runbook
 * without retrieve steps starts its first step without opening (or creating) the index in
 * `.keel/lance`, and a runbook that retrieves still finds the notes. What such a run leaves is
 * whole: its trace (`keel show`) and the run store `keel report` reads.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RunSummary, RunTrace } from '@keel/schemas';
import { writeCompany } from '../helpers/memory';
import { runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;

beforeEach(async () => {
  dirs = await makeTempDirs();
  expect((await runKeel(['init', dirs.workspace], { runtime: dirs.runtime })).code).toBe(0);
  await writeCompany(dirs.workspace);
  await mkdir(join(dirs.workspace, 'runbooks'), { recursive: true });
});
afterEach(async () => {
  await dirs.cleanup();
});

const keel = (args: string[]) => runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });

const runbook = (name: string, steps: string): Promise<void> =>
  writeFile(
    join(dirs.workspace, 'runbooks', `${name}.yaml`),
    `apiVersion: keel/v1\nname: ${name}\nrole: Test\ndescription: A test runbook.\nsteps:\n${steps}`,
  );

const OUTBOX = (content: string): string => `
  - id: save
    type: connector
    use: fs.outbox@1
    with:
      path: result.md
      content: '${content}'
`;

async function run(name: string): Promise<RunSummary> {
  const ran = await keel(['run', name, '--json', '--yes']);
  expect(ran.code, ran.stderr).toBe(0);
  return JSON.parse(ran.stdout) as RunSummary;
}

it('runs a runbook without retrieve steps and never opens the memory index', async () => {
  await runbook('note', OUTBOX('written'));
  const lance = join(dirs.workspace, '.keel', 'lance');
  expect(existsSync(lance)).toBe(false);

  const ran = await run('note');
  expect(ran).toMatchObject({ status: 'succeeded', stepsDone: 1 });
  expect(await readFile(join(dirs.workspace, 'outbox', 'result.md'), 'utf8')).toBe('written');
  expect(existsSync(lance)).toBe(false);

  const shown = await keel(['show', ran.id, '--json']);
  expect(shown.code, shown.stderr).toBe(0);
  expect((JSON.parse(shown.stdout) as RunTrace).steps).toMatchObject([
    { id: 'save', status: 'succeeded', input: { with: { path: 'result.md', content: 'written' } } },
  ]);
  const report = await keel(['report', '--json']);
  expect(report.code, report.stderr).toBe(0);
  expect((JSON.parse(report.stdout) as { agents: unknown[] }).agents).toMatchObject([
    { agent: 'note', runs: 1, succeeded: 1 },
  ]);
  expect(existsSync(lance)).toBe(false);
});

it('still opens and syncs memory for a runbook that retrieves', async () => {
  await runbook(
    'lookup',
    `  - id: context
    type: retrieve
    query: when is the Acme contract renewal due
    k: 1
${OUTBOX('{{ steps.context.output[0].path }}')}`,
  );
  expect(await run('lookup')).toMatchObject({ status: 'succeeded', stepsDone: 2 });
  expect(await readFile(join(dirs.workspace, 'outbox', 'result.md'), 'utf8')).toBe(
    'memory/customers/acme.md',
  );
  expect(existsSync(join(dirs.workspace, '.keel', 'lance'))).toBe(true);
});
