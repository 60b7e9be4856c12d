/**
 * `keel demo [DIR]`: a sample company to look at in minutes. Creates a workspace with a small
 * consultancy's notes and the example runbooks, indexes it, and runs each runbook offline from its
 * recorded cassette, leaving a run history, metrics, an approval waiting and drafts in the outbox.
 */
import { execFile } from 'node:child_process';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { parse } from 'yaml';
import {
  Cassette,
  FINISHED_RUN_STATUSES,
  IndexSyncRequest,
  TrustGrantRequest,
  TrustStateRequest,
  RunbookTestFile,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { Daemon } from '../../daemon';
import { InProcessClient } from '../../rpc/inProcessClient';
import { initWorkspace } from '../../workspace/init';
import type { CliContext } from '../context';
import { describeRun } from '../runFormat';

const run = promisify(execFile);

/**
 * The order tells a story: a customer signs, content, a sales call, the weekly review, a mail from
 * the new customer, a brief before the Northwind meeting, Acme's first payment. invoice-chaser (and
 * the invoice-reminder it hands each customer to) is in the workspace too but not run: it reads
 * Stripe first, and the demo has no Stripe account.
 */
const RUNBOOKS = [
  'onboarding',
  'content',
  'sales',
  'ops',
  'inbox-triage',
  'meeting-prep',
  'payment-received',
];

export const DEMO_CONFIG = `# Keel workspace configuration (the demo company). Docs: README.md of the Keel repository.
version: 1
company: Fjord Operations Consulting

memory:
  dir: memory
  maxAgeDays: 365
  embeddings:
    provider: local

runbooks:
  dir: runbooks

models:
  # The demo's runs answered from recorded cassettes; set a real endpoint and key to run live.
  endpoint:
    baseUrl: https://api.openai.com/v1
    apiKeyEnv: OPENAI_API_KEY
  tiers:
    fast: { model: gpt-4o-mini, inputUsdPerMTok: 0.15, outputUsdPerMTok: 0.6 }
    strong: { model: gpt-4o, inputUsdPerMTok: 2.5, outputUsdPerMTok: 10 }

# The company's mail account. inbox-triage answers customers through it; its replies wait for your
# approval. To send for real, put your own servers here and set FJORD_MAIL_PASSWORD (or store the
# password with "Keel: Set Connector Secret" in VS Code).
connectors:
  mail:
    use: email@1
    imap: { host: mail.fjord-ops.example }
    smtp: { host: mail.fjord-ops.example }
    user: founder@fjord-ops.example
    from: Fjord Operations <founder@fjord-ops.example>
    credentials: { password: { env: FJORD_MAIL_PASSWORD } }
  # Stripe, for invoice-chaser and payment-received. Set FJORD_STRIPE_KEY (a test-mode key first).
  billing:
    use: billing@1
    currency: eur
    credentials: { secretKey: { env: FJORD_STRIPE_KEY } }

# invoice-chaser hands each overdue customer to invoice-reminder, whose reminder is read by you at
# its checkpoint, then Stripe is asked again and it is sent at once, only to a customer's domain:
# no second approval between that read and the send.
approvals:
  lists:
    customers: [acme-logistics.example, northwind.example]
  actions:
    - action: mail.send
      decide: allow
      when: { subject: { matches: "Payment reminder: *" }, to: { in: customers } }

# What each agent may spend: a warning at 80%, then new runs are refused until the period ends.
quotas:
  - { agent: content, period: day, maxUsd: 0.05 }
  - { agent: Operations, period: month, maxUsd: 1 }
`;

export function registerDemo(program: Command, context: CliContext): void {
  program
    .command('demo')
    .description('create a sample company workspace, index it and run the example runbooks offline')
    .argument('[dir]', 'a new or empty folder', 'keel-demo')
    .action(async (dir: string) => {
      const workspace = resolve(process.env.INIT_CWD ?? process.cwd(), dir);
      const entries = await readdir(workspace).catch(() => [] as string[]);
      if (entries.length > 0) throw new Error(`${workspace} is not empty; give keel demo a new folder`);
      const out = (line: string): boolean => process.stdout.write(`${line}\n`);

      await initWorkspace(workspace);
      await writeFile(join(workspace, 'keel.yaml'), DEMO_CONFIG);
      const assets = join(__dirname, 'demo');
      await cp(join(assets, 'memory'), join(workspace, 'memory'), { recursive: true });
      await cp(join(assets, 'runbooks'), join(workspace, 'runbooks'), { recursive: true });
      await commitAll(workspace, 'The demo company: notes and runbooks');
      out(`Created the demo company in ${workspace}`);

      const daemon = await Daemon.start({ workspace, mode: 'in-process', log: context.log });
      const client = new InProcessClient(daemon);
      try {
        // Keel made this workspace itself, from its own files: the operator running the demo trusts it.
        const trust = await client.request(TrustStateRequest, {});
        await client.request(TrustGrantRequest, { wantsHash: trust.wantsHash });
        const index = await client.request(IndexSyncRequest);
        out(`Indexed ${index.documents} notes (${index.chunks} chunks).`);
        out("Each model call is answered from the runbook's cassette in runbooks/tests/cassettes/, offline.");
        for (const name of RUNBOOKS) {
          const inputs = await testInputs(workspace, name);
          const cassette = `runbooks/tests/cassettes/${name}.json`;
          const started = await client.request(RunStartRequest, {
            runbook: name,
            inputs,
            replayCassette: cassette,
          });
          const [head, ...rest] = describeRun(await settled(client, started.id)).split('\n');
          out([`${head}${await scriptedLabel(workspace, cassette)}`, ...rest].join('\n'));
        }
      } finally {
        await client.close();
      }
      out(
        [
          '',
          'Open it in VS Code (with the Keel extension installed):',
          `  code ${workspace}`,
          'The Keel sidebar shows the runs, the approvals waiting for you (the onboarding plan, and a reply',
          "to Dana's mail you can read and edit before it is sent), spend and metrics. From a terminal:",
          `  cd ${workspace} && keel approvals && keel report`,
          'To run the agents against a real model, set OPENAI_API_KEY (or another endpoint in keel.yaml).',
        ].join('\n'),
      );
    });
}

/** The inputs of the runbook's first test case: what its cassette was recorded with. */
async function testInputs(
  workspace: string,
  runbook: string,
): Promise<Record<string, string | number | boolean>> {
  const text = await readFile(join(workspace, 'runbooks', 'tests', `${runbook}.test.yaml`), 'utf8');
  return RunbookTestFile.parse(parse(text)).cases[0]?.inputs ?? {};
}

/**
 * " (scripted answers)" when the cassette's answers were written, not given by a model: the demo's
 * drafts read well, and nobody should take them for what a real model said.
 */
async function scriptedLabel(workspace: string, cassette: string): Promise<string> {
  const parsed = Cassette.safeParse(JSON.parse(await readFile(join(workspace, cassette), 'utf8')));
  return parsed.success && parsed.data.source === 'scripted' ? '  (scripted answers)' : '';
}

async function settled(client: InProcessClient, id: string): Promise<RunSummary> {
  for (;;) {
    const { run } = await client.request(RunGetRequest, { id });
    if (FINISHED_RUN_STATUSES.includes(run.status) || run.status === 'waiting_approval') return run;
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function commitAll(workspace: string, message: string): Promise<void> {
  const identity = await run('git', ['config', '--get', 'user.email'], { cwd: workspace }).then(
    () => [],
    () => ['-c', 'user.name=Keel', '-c', 'user.email=keel@localhost'],
  );
  await run('git', ['add', '-A'], { cwd: workspace });
  await run('git', [...identity, 'commit', '--quiet', '-m', message], { cwd: workspace });
}
