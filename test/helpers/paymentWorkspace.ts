/**
 * A workspace where Stripe's `invoice.paid` webhook starts the example `payment-received`
 * runbook in a real in-process daemon: a customer note to append to, the local model server
 * answering the bookkeeper's step, a mail account whose send only ever waits for the operator
 * (nothing connects to it), and signed deliveries to the daemon's webhook listener.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { ApprovalGetRequest, ApprovalsListRequest, MemorySearchRequest, type Proposal } from '@keel/schemas';
import type { Daemon } from '../../daemon/src/daemon';
import type { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { billingAccount } from './billingServer';
import { git, startTrustedDaemon } from './inProcessDaemon';
import { ModelServer, pricedModels, type ScriptedReply } from './modelServer';
import { REPO_ROOT, waitFor } from './processes';
import { freePort, invoicePaidEvent, postStripeHook } from './webhooks';
import { makeTempDirs, type TempDirs } from './workspace';

const SECRET = 'whsec_keel_payment_note_0123456789';

/** Acme's note as the operator wrote it: frontmatter, a Payments section, and one after it. */
export const ACME_NOTE = [
  '---',
  'type: customer',
  'tags: [logistics, priority]',
  'contact: Dana Whitfield (COO)',
  '---',
  '',
  '# Acme Logistics',
  '',
  'Freight forwarder in Rotterdam. Retainer of 4,000 EUR a month.',
  '',
  '## Payments',
  '',
  '- 2026-11-03: invoice KEEL-0004 paid, 4,000 EUR.',
  '',
  '## Contacts',
  '',
  'Dana Whitfield (dana@acme-logistics.example) decides; Piet uses the dashboard daily.',
  '',
].join('\n');

export const ACME_PATH = 'memory/customers/acme-logistics.md';

export interface PaymentWorkspace {
  dirs: TempDirs;
  daemon: Daemon;
  client: InProcessClient;
  model: ModelServer;
  /** Delivers Stripe's signed `invoice.paid` for Acme, with the customer name given. */
  invoicePaid(event: string, customerName?: string): Promise<{ status: number; body: string }>;
  /** The pending file proposal of the payment-received run, once there is one. */
  noteProposal(): Promise<Proposal>;
  /** The proposal's file as the operator's diff shows it: its current and proposed text. */
  diffOf(proposal: Proposal): Promise<{ current: string | null; proposed: string | null }>;
  /** `git diff --numstat` of the last commit for a path: [added, removed]. */
  lastCommitLines(path: string): [number, number];
  stop(): Promise<void>;
}

/** The bookkeeper's answer: the thank-you, and the payment line (`noteLine`) to append. */
export function bookkeeperAnswer(noteLine: string, customer = 'Acme Logistics'): ScriptedReply {
  return {
    content: JSON.stringify({
      to: 'dana@acme-logistics.example',
      text: 'Hi Dana,\n\nThank you for paying so promptly.\n\nBest regards',
      customer,
      noteLine,
      known: true,
    }),
  };
}

/** A payment workspace for the running test, stopped when that test ends (passed or failed). */
export async function paymentWorkspaceForTest(answer: ScriptedReply): Promise<PaymentWorkspace> {
  const workspace = await startPaymentWorkspace(answer);
  onTestFinished(() => workspace.stop());
  return workspace;
}

async function startPaymentWorkspace(answer: ScriptedReply): Promise<PaymentWorkspace> {
  const dirs = await makeTempDirs('keel-payment-note-');
  const model = await ModelServer.start({ model: 'gpt-4o-mini-2024-07-18' });
  model.respondWith(() => answer);
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_STRIPE_KEY = 'sk_test_never_sent';
  process.env.KEEL_STRIPE_WEBHOOK = SECRET;
  const port = await freePort();
  const ws = dirs.workspace;
  await initWorkspace(ws);
  await copyFile(
    join(REPO_ROOT, 'runbooks/payment-received.yaml'),
    join(ws, 'runbooks/payment-received.yaml'),
  );
  await mkdir(join(ws, 'memory/customers'), { recursive: true });
  await writeFile(join(ws, ACME_PATH), ACME_NOTE);
  await writeFile(
    join(ws, 'keel.yaml'),
    `version: 1
memory:
  embeddings: { provider: local }
${pricedModels(model)}webhooks: { port: ${port} }
connectors:
${billingAccount({ url: 'http://127.0.0.1:9' })}  mail:
    use: email@1
    imap: { host: mail.acme-test.invalid }
    smtp: { host: mail.acme-test.invalid }
    user: founder@fjord-ops.example
    from: Founder <founder@fjord-ops.example>
    credentials: { password: { env: KEEL_PAYMENT_MAIL_PASSWORD } }
`,
  );
  git(ws, 'add', '-A');
  git(ws, '-c', 'user.name=Maya', '-c', 'user.email=maya@example.com', 'commit', '-q', '-m', 'The company');
  const { daemon, client } = await startTrustedDaemon(ws);
  await waitFor(
    'the customer note indexed',
    async () => {
      const { results } = await client.request(MemorySearchRequest, {
        query: 'Acme Logistics customer',
        k: 1,
      });
      return results.some((r) => r.path === ACME_PATH) || null;
    },
    30_000,
  );

  const workspace: PaymentWorkspace = {
    dirs,
    daemon,
    client,
    model,
    invoicePaid: (event, customerName = 'Acme Logistics') => {
      const body = invoicePaidEvent({
        event,
        invoice: `in_${event}`,
        customer: 'cus_acme',
        email: 'dana@acme-logistics.example',
        name: customerName,
        number: 'KEEL-0007',
        amount: 400_000,
      });
      return waitFor(
        'the webhook listener',
        () => postStripeHook(port, body, SECRET).catch(() => null),
        20_000,
      );
    },
    noteProposal: () =>
      waitFor(
        'the payment line proposed',
        async () => {
          const { approvals } = await client.request(ApprovalsListRequest, {});
          return approvals.find((p) => p.runbook === 'payment-received' && p.changes.length > 0) ?? null;
        },
        60_000,
      ),
    diffOf: async (proposal) => {
      const { proposal: full, current } = await client.request(ApprovalGetRequest, { id: proposal.id });
      const change = full.changes[0]!;
      return { current: current[change.path] ?? null, proposed: change.content ?? null };
    },
    lastCommitLines: (path) => {
      const [added, removed] = git(ws, 'diff', '--numstat', 'HEAD~1', 'HEAD', '--', path).trim().split('\t');
      return [Number(added), Number(removed)];
    },
    stop: async () => {
      await daemon.stop('test');
      await model.close();
      delete process.env.KEEL_STRIPE_KEY;
      delete process.env.KEEL_STRIPE_WEBHOOK;
      await dirs.cleanup();
    },
  };
  return workspace;
}
