/**
 * The example runbooks and the run commands as an operator meets them: `keel test` passes
 * offline in a fresh workspace and fails, naming the step, when a prompt changes; `keel run`
 * records a cassette, `keel runs`, `keel show` and `keel replay` read the run back.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { RunbookTestResult, RunSummary } from '@keel/schemas';
import { ModelServer } from '../helpers/modelServer';
import { REPO_ROOT, runKeel } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let server: ModelServer | null = null;

beforeEach(async () => {
  dirs = await makeTempDirs();
  expect((await runKeel(['init', dirs.workspace], { runtime: dirs.runtime })).code).toBe(0);
  await cp(join(REPO_ROOT, 'runbooks'), join(dirs.workspace, 'runbooks'), { recursive: true });
});
afterEach(async () => {
  await server?.close();
  server = null;
  await dirs.cleanup();
});

const keel = (args: string[]) => runKeel(args, { cwd: dirs.workspace, runtime: dirs.runtime });

/**
 * inbox-triage answers through the workspace's `mail` account, invoice-chaser reads `billing`
 * (neither contacted by `keel test`).
 */
const MAIL_ACCOUNT = `
connectors:
  mail:
    use: email@1
    imap: { host: mail.fjord-ops.example }
    smtp: { host: mail.fjord-ops.example }
    user: founder@fjord-ops.example
    from: Fjord Operations <founder@fjord-ops.example>
    credentials: { password: { env: FJORD_MAIL_PASSWORD } }
  billing:
    use: billing@1
    currency: eur
    credentials: { secretKey: { env: FJORD_STRIPE_KEY } }
`;

it('passes the example runbooks’ tests offline, and fails one whose prompt changed', async () => {
  const config = join(dirs.workspace, 'keel.yaml');
  await writeFile(config, (await readFile(config, 'utf8')) + MAIL_ACCOUNT);
  const passed = await keel(['test', '--json']);
  expect(passed.code, passed.stderr).toBe(0);
  const results = JSON.parse(passed.stdout) as RunbookTestResult[];
  expect(results.map((r) => [r.runbook, r.passed, r.failures])).toEqual([
    ['content', true, []],
    ['inbox-triage', true, []],
    ['inbox-triage', true, []],
    ['invoice-chaser', true, []],
    ['invoice-reminder', true, []],
    ['meeting-prep', true, []],
    ['onboarding', true, []],
    ['ops', true, []],
    ['payment-received', true, []],
    ['payment-received', true, []],
    ['sales', true, []],
    ['weekly-metrics', true, []],
    ['weekly-ops', true, []],
  ]);
  // The examples' answers were scripted, not a model's: the results say so.
  expect(results.every((r) => r.cassetteSource === 'scripted' && r.notes.length === 0)).toBe(true);
  const text = await keel(['test', 'content']);
  expect(text.stdout).toMatch(/PASS {2}content › .* \(\d+ ms, scripted answers\)/);

  const path = join(dirs.workspace, 'runbooks/onboarding.yaml');
  await writeFile(path, (await readFile(path, 'utf8')).replace('Be concrete and brief.', 'Be lyrical.'));
  const failed = await keel(['test', 'onboarding']);
  expect(failed.code).toBe(1);
  expect(failed.stdout).toMatch(/FAIL {2}onboarding › a new logistics customer/);
  expect(failed.stdout).toMatch(
    /the prompt of step "plan" \(call 1\) changed since .*onboarding\.json was recorded/,
  );

  // The supervisor's test runs its hand-offs from the same cassette: a child's changed prompt fails it.
  const content = join(dirs.workspace, 'runbooks/content.yaml');
  await writeFile(content, (await readFile(content, 'utf8')).replace('No hashtags', 'Many hashtags'));
  const supervisor = await keel(['test', 'weekly-ops']);
  expect(supervisor.code).toBe(1);
  expect(supervisor.stdout).toMatch(
    /step "content" failed: its child run test-weekly-ops\.content \(content\) ended failed: .*the prompt of step "draft" \(call 1\) changed since .*weekly-ops\.json was recorded/,
  );
}, 120_000);

it('checks the reply inbox-triage would send, and names the mail account it needs', async () => {
  const noAccount = await keel(['test', 'inbox-triage']);
  expect(noAccount.code).toBe(1);
  expect(noAccount.stdout).toContain('no connector "mail"');
  expect(noAccount.stdout).toContain('keel.yaml');

  const config = join(dirs.workspace, 'keel.yaml');
  await writeFile(config, (await readFile(config, 'utf8')) + MAIL_ACCOUNT);
  expect((await keel(['test', 'inbox-triage'])).code).toBe(0);
  // The reply must go to Dana in her thread: a draft sent outside it fails the case, naming the argument.
  const triage = join(dirs.workspace, 'runbooks/inbox-triage.yaml');
  await writeFile(
    triage,
    (await readFile(triage, 'utf8')).replace("inReplyTo: '{{ inputs.messageId }}'", ''),
  );
  const unthreaded = await keel(['test', 'inbox-triage']);
  expect(unthreaded.code).toBe(1);
  expect(unthreaded.stdout).toContain(
    'mail.send argument "inReplyTo" is null, expected "<kickoff-1@acme-logistics.example>"',
  );
});

it('runs a runbook from the terminal, records it, lists it, shows its trace and replays it', async () => {
  server = await ModelServer.start();
  const config = join(dirs.workspace, 'keel.yaml');
  await writeFile(
    config,
    (await readFile(config, 'utf8'))
      .replace('https://api.openai.com/v1', server.baseUrl)
      .replace('apiKeyEnv: OPENAI_API_KEY', ''),
  );
  await cp(join(REPO_ROOT, 'daemon/demo/company/memory'), join(dirs.workspace, 'memory'), {
    recursive: true,
  });
  server.enqueue({ content: `${'Retainers let customers ask freely. '.repeat(8)}` });
  const trusted = await keel(['trust', '--yes']);
  expect(trusted.stdout).toContain(
    `Send model requests (runs) to ${new URL(server.baseUrl).origin} without a key.`,
  );

  const ran = await keel([
    'run',
    'content',
    '--input',
    'topic=retainers',
    '--record',
    'recorded.json',
    '--json',
  ]);
  expect(ran.code, ran.stderr).toBe(0);
  const run = JSON.parse(ran.stdout) as RunSummary;
  expect(run).toMatchObject({ runbook: 'content', status: 'succeeded', stepsDone: 3 });
  expect(await readFile(join(dirs.workspace, 'outbox/posts/retainers.md'), 'utf8')).toContain(
    'Retainers let',
  );
  const cassette = JSON.parse(await readFile(join(dirs.workspace, 'recorded.json'), 'utf8')) as {
    source: string;
    entries: unknown[];
    retrievals: { stepId: string }[];
  };
  expect(cassette.entries).toHaveLength(1);
  expect(cassette.source).toBe('live');
  expect(cassette.retrievals.map((r) => r.stepId)).toEqual(['sources']);

  const listed = await keel(['runs']);
  expect(listed.stdout).toMatch(new RegExp(`${run.id}\\s+content\\s+succeeded\\s+3/3`));
  const shown = await keel(['show', run.id]);
  expect(shown.stdout).toMatch(/● sources \(retrieve\) succeeded/);
  expect(shown.stdout).toMatch(/● draft \(llm\) succeeded .*1 model call\(s\)/);
  expect(shown.stdout).toMatch(/read memory\/decisions\/2026-09-pricing\.md:\d+-\d+/);

  const requests = server.requests.length;
  const replayed = await keel(['replay', run.id]);
  expect(replayed.code, replayed.stdout + replayed.stderr).toBe(0);
  expect(replayed.stdout).toContain('0 model calls, 0 side effects, ended succeeded');
  expect(replayed.stdout).toContain('Identical to the recorded run.');
  expect(server.requests.length).toBe(requests);

  const missing = await keel(['run', 'content']);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/content needs the input "topic"/);
});
