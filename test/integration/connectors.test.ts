/**
 * Connector steps through the real daemon and conductor: `use:` resolved from keel.yaml, input
 * checked by the action's schema, an external action waiting as an action proposal that the
 * operator edits and approves over the same RPC as file proposals, performed once with the
 * edited input; a rule that allows it runs at once; fs.outbox@1 through the registry as before.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApprovalApproveRequest,
  ApprovalRejectRequest,
  ApprovalsListRequest,
  RunGetRequest,
  RunStartRequest,
  type RunSummary,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { initWorkspace } from '../../daemon/src/workspace/init';
import { ModelServer } from '../helpers/modelServer';
import { delivered, notifyConnector, refuseNextSend } from '../helpers/notifyConnector';
import { waitFor } from '../helpers/processes';
import { trust } from '../helpers/trust';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs;
let provider: string;
let daemon: Daemon | null = null;
let client: InProcessClient;

const TOKEN = 'tok-integration-0123456789';

async function start(approvals = '', models = ''): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
${models}connectors:
  notify:
    use: notify@1
    dir: ${JSON.stringify(provider)}
    credentials: { token: { env: KEEL_TEST_NOTIFY_TOKEN } }
approvals:
  lists: { trustedDomains: [acme.com] }
  actions:
${approvals || '    []'}
`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
    connectors: [notifyConnector],
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
}

async function runbook(name: string, steps: string): Promise<void> {
  await writeFile(
    join(dirs.workspace, 'runbooks', `${name}.yaml`),
    `apiVersion: keel/v1\nname: ${name}\nrole: Tester\ndescription: Calls a connector.\nsteps:\n${steps}`,
  );
}

async function runUntil(name: string, status: RunSummary['status'][]): Promise<RunSummary> {
  const started = await client.request(RunStartRequest, { runbook: name, inputs: {} });
  return waitFor(
    `run ${started.id} ${status.join('/')}`,
    async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return status.includes(run.status) ? run : null;
    },
    30_000,
  );
}

const SEND = (to: string) => `  - id: tell
    type: connector
    use: notify
    action: send
    with: { to: "${to}", text: "The invoice is ready." }
`;

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_TEST_NOTIFY_TOKEN = TOKEN;
  provider = await mkdtemp(join(tmpdir(), 'keel-provider-'));
  await initWorkspace(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test');
  daemon = null;
  delete process.env.KEEL_TEST_NOTIFY_TOKEN;
  await rm(provider, { recursive: true, force: true });
  await dirs.cleanup();
});

describe('connector steps', () => {
  it('an external action waits as an action proposal; the edited document is what is sent, once', async () => {
    await start();
    await runbook('tell', SEND('dana@outside.example'));
    const started = await client.request(RunStartRequest, { runbook: 'tell', inputs: {} });
    const proposal = await waitFor('an action proposal', async () => {
      const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
      return approvals[0] ?? null;
    });
    expect(proposal.changes).toEqual([]);
    expect(proposal.action).toMatchObject({
      connector: 'notify',
      use: 'notify@1',
      action: 'send',
      risk: 'external',
      input: { to: 'dana@outside.example', text: 'The invoice is ready.' },
      review: { title: 'Message to dana@outside.example', text: 'The invoice is ready.' },
    });
    expect(proposal.action?.rule).toMatch(/risk external/);
    expect(await delivered(provider)).toEqual([]);

    const approved = await client.request(ApprovalApproveRequest, {
      id: proposal.id,
      editedReview: 'The invoice is ready; it is due in 30 days.',
    });
    expect(approved.decision?.kind).toBe('edited');
    const run = await waitFor('the run to end', async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'succeeded' || run.status === 'failed' ? run : null;
    });
    expect(run.status).toBe('succeeded');
    const sent = await delivered(provider);
    expect(sent).toEqual([
      expect.objectContaining({
        to: 'dana@outside.example',
        text: 'The invoice is ready; it is due in 30 days.',
      }),
    ]);
    // The edit is feedback for the runbook's next runs, as file edits are.
    const feedback = await readFile(join(dirs.workspace, 'memory/feedback/tell.md'), 'utf8');
    expect(feedback).toContain('+The invoice is ready; it is due in 30 days.');
  });

  it('a rule allows trusted recipients at once, asks for others, and a rejection fails the step', async () => {
    await start(
      '    - { action: notify.send, when: { to: { in: trustedDomains } }, decide: allow }\n' +
        '    - { action: notify.send, when: { to: { matches: "*@blocked.example" } }, decide: deny }\n',
    );
    await runbook('trusted', SEND('Dana <dana@acme.com>'));
    expect((await runUntil('trusted', ['succeeded', 'failed'])).status).toBe('succeeded');
    expect((await delivered(provider)).map((m) => m.to)).toEqual(['Dana <dana@acme.com>']);

    await runbook('blocked', SEND('eve@blocked.example'));
    const blocked = await runUntil('blocked', ['succeeded', 'failed']);
    expect(blocked.error).toMatch(/keel.yaml does not allow notify.send.*deny/);

    await runbook('other', SEND('bob@other.example'));
    const started = await client.request(RunStartRequest, { runbook: 'other', inputs: {} });
    const proposal = await waitFor('an action proposal', async () => {
      const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
      return approvals[0] ?? null;
    });
    await client.request(ApprovalRejectRequest, { id: proposal.id, reason: 'Bob left the company' });
    const rejected = await waitFor('the run to fail', async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'failed' ? run : null;
    });
    expect(rejected.error).toMatch(/the operator rejected notify.send: Bob left the company/);
    expect(await delivered(provider)).toHaveLength(1);
  });

  it('arguments that do not fit the action fail the step naming each field', async () => {
    await start();
    await runbook(
      'bad',
      `  - id: tell\n    type: connector\n    use: notify\n    action: send\n    with: { to: "", extra: 1 }\n`,
    );
    const run = await runUntil('bad', ['succeeded', 'failed']);
    expect(run.error).toMatch(/notify send: the arguments do not fit the action/);
    expect(run.error).toMatch(/"to"/);
    expect(run.error).toMatch(/"text"/);
    expect(run.error).toMatch(/extra/);
  });

  it('an edit that is no valid input is refused before the decision; the proposal stays pending', async () => {
    await start();
    await runbook('tell', SEND('dana@outside.example'));
    const started = await client.request(RunStartRequest, { runbook: 'tell', inputs: {} });
    const proposal = await waitFor('an action proposal', async () => {
      const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
      return approvals[0] ?? null;
    });
    await expect(
      client.request(ApprovalApproveRequest, { id: proposal.id, editedReview: '' }),
    ).rejects.toThrow(/cannot be sent: it is not a valid notify.send: .*"text".*still pending/s);
    const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
    expect(approvals.map((a) => [a.id, a.decision])).toEqual([[proposal.id, null]]);
    await client.request(ApprovalApproveRequest, { id: proposal.id, editedReview: 'Fixed text.' });
    const run = await waitFor('the run to end', async () => {
      const { run } = await client.request(RunGetRequest, { id: started.id });
      return run.status === 'succeeded' || run.status === 'failed' ? run : null;
    });
    expect(run.status).toBe('succeeded');
    expect((await delivered(provider)).map((m) => m.text)).toEqual(['Fixed text.']);
  });

  it('an action named like an Object method is no action, with the list of those there are', async () => {
    await start();
    await runbook(
      'proto',
      `  - id: tell\n    type: connector\n    use: notify\n    action: constructor\n    with: {}\n`,
    );
    const run = await runUntil('proto', ['succeeded', 'failed']);
    expect(run.error).toMatch(/notify has no action "constructor" \(it has: send, fail\)/);
  });

  it('fs.outbox@1 runs through the registry: a new draft is written by the file rules', async () => {
    await start();
    await runbook(
      'draft',
      `  - id: save\n    type: connector\n    use: fs.outbox@1\n    with: { path: hello.md, content: "Hello" }\n`,
    );
    const run = await runUntil('draft', ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    expect(await readFile(join(dirs.workspace, 'outbox/hello.md'), 'utf8')).toBe('Hello');
  });

  it('a retried agent step never reuses the decision an earlier attempt got for its action', async () => {
    const server = await ModelServer.start();
    try {
      await start(
        '',
        `models:\n  endpoint: { baseUrl: ${server.baseUrl} }\n  tiers:\n    fast: { model: m }\n`,
      );
      const send = (text: string, said = '') => ({
        content: said,
        toolCalls: [{ name: 'notify_send', arguments: { to: 'dana@outside.example', text } }],
      });
      server.enqueue(
        send('Message A', 'Dana asked to hear from us before Friday.'),
        // Attempt 1 fails after its approved send failed at the provider.
        { fault: { kind: 'status', status: 400, message: 'bad request' } },
        send('Message B'),
        { content: 'done' },
      );
      await runbook(
        'agent',
        `  - id: tell\n    type: agent\n    goal: Tell Dana.\n    tools: [notify.send]\n    retry: { maxAttempts: 2, backoffSeconds: 0 }\n`,
      );
      await refuseNextSend(provider);
      const started = await client.request(RunStartRequest, { runbook: 'agent', inputs: {} });
      const pending = (text: string) =>
        waitFor(`a proposal for ${text}`, async () => {
          const { approvals } = await client.request(ApprovalsListRequest, { status: ['pending'] });
          return approvals.find((a) => (a.action?.input as { text?: string }).text === text) ?? null;
        });
      const a = await pending('Message A');
      // What the agent said when it chose the call is shown with the proposal, after the rule.
      expect(a.reasoning).toBe(
        'Waits for your decision: risk external: asks unless an approvals.actions rule allows it.\n\n' +
          'What the agent said when it chose this: Dana asked to hear from us before Friday.',
      );
      await client.request(ApprovalApproveRequest, { id: a.id });
      // Attempt 2 asks about B on its own; nothing goes out before the operator decides.
      const b = await pending('Message B');
      expect(b.reasoning).not.toContain('What the agent said');
      expect(await delivered(provider)).toEqual([]);
      await client.request(ApprovalApproveRequest, { id: b.id });
      const run = await waitFor('the run to end', async () => {
        const { run } = await client.request(RunGetRequest, { id: started.id });
        return run.status === 'succeeded' || run.status === 'failed' ? run : null;
      });
      expect(run.status).toBe('succeeded');
      expect((await delivered(provider)).map((m) => m.text)).toEqual(['Message B']);
    } finally {
      await server.close();
    }
  });
});
