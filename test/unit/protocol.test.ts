/** Every protocol message round-trips through its schemas, and nothing else gets through. */
import { describe, expect, it } from 'vitest';
import {
  allMessages,
  type DaemonStatus,
  type IndexStatus,
  type MessageDefinition,
  type ControlState,
  type Proposal,
  type RunbookInfo,
  type RunSummary,
  type SearchResult,
  type TrustState,
} from '@keel/schemas';
import { HostToWebviewMessage, WebviewToHostMessage } from '@keel/schemas/src/webviews';

const trustState: TrustState = {
  trusted: false,
  workspace: '/home/maya/acme',
  endpoints: [{ purpose: 'models', origin: 'https://api.openai.com', apiKeyEnv: 'OPENAI_API_KEY' }],
  triggers: [
    { id: 'c0ffee', runbook: 'weekly-digest', kind: 'schedule', spec: '0 8 * * 1', consented: false },
  ],
  rules: ['memory/working/** allow create', 'outbox/** allow create'],
  wantsHash: 'ab12',
  grantedAt: null,
  summary: 'Keel would send requests with OPENAI_API_KEY to https://api.openai.com.',
};

const status: DaemonStatus = {
  state: 'ready',
  version: '0.1.0',
  pid: 4242,
  workspace: '/home/maya/acme',
  config: 'invalid',
  problems: [
    {
      path: 'keel.yaml',
      line: 3,
      column: 5,
      endLine: 3,
      endColumn: 9,
      severity: 'error',
      message: 'Unrecognized key: "modles"',
    },
  ],
  startedAt: '2026-11-25T08:55:00.000Z',
  uptimeMs: 120_000,
  mode: 'daemon',
  socketPath: '/run/user/1000/keel/0123456789abcdef.sock',
  trust: null,
};

const searchResult: SearchResult = {
  path: 'memory/customers/acme.md',
  startLine: 10,
  endLine: 12,
  heading: 'Acme Corp > Contract',
  text: 'Renewal due in March.',
  score: 0.0328,
  stale: true,
  type: 'customer',
  tags: ['priority'],
  date: '2026-11-20',
};

const indexStatus: IndexStatus = {
  state: 'indexing',
  documents: 2314,
  chunks: 9120,
  pending: 12,
  progress: { phase: 'indexing', done: 40, total: 52 },
  embedder: 'local-hash-v1/256',
  lastChangeAt: '2026-11-25T08:54:48.000Z',
  problems: [
    {
      path: 'memory/broken.md',
      line: 2,
      column: 7,
      severity: 'error',
      message: 'Frontmatter is not valid YAML',
    },
  ],
  recovery: null,
};

const runResult = { documents: 2314, chunks: 9120, indexed: 12, removed: 1, problems: [], tookMs: 840 };

const run: RunSummary = {
  id: '20261125-085500-onboarding-1a2b',
  runbook: 'onboarding',
  status: 'running',
  inputs: { customer: 'memory/customers/acme.md', seats: 12, urgent: false },
  startedAt: '2026-11-25T08:55:00.000Z',
  endedAt: null,
  currentStep: 'plan',
  stepsDone: 1,
  stepsTotal: 3,
  costUsd: 0.00042,
  tokens: 1830,
  error: null,
  escalation: null,
  waitingFor: null,
  outputs: null,
};

const runbookInfo: RunbookInfo = {
  name: 'onboarding',
  path: 'runbooks/onboarding.yaml',
  role: 'Customer onboarding lead',
  description: 'Turns a new customer note into a welcome plan.',
  inputs: [
    {
      name: 'customer',
      type: 'string',
      description: 'The customer note',
      required: true,
      default: null,
      enum: null,
    },
  ],
  problems: [],
};

const proposal: Proposal = {
  id: 'p-20261125-085500-onboarding-1a2b-record',
  runId: run.id,
  stepId: 'record',
  runbook: 'onboarding',
  summary: 'Onboarding plan for Acme',
  reasoning: 'The plan belongs next to the customer note.',
  changes: [
    { path: 'memory/customers/acme-onboarding.md', action: 'create', baseHash: null, content: '# Plan\n' },
    { path: 'memory/customers/acme.md', action: 'modify', baseHash: 'ab'.repeat(32), content: '# Acme\n' },
  ],
  status: 'pending',
  protected: false,
  createdAt: '2026-11-25T08:55:03.000Z',
  staleFiles: [],
  decision: null,
};

const control: ControlState = {
  stopped: true,
  stoppedAt: '2026-11-25T09:10:00.000Z',
  reason: 'A runaway agent',
  breakers: [
    {
      name: 'endpoint:https://api.openai.com/v1',
      state: 'open',
      failures: 5,
      retryAt: '2026-11-25T09:11:00.000Z',
    },
  ],
  quotas: [
    {
      agent: 'onboarding',
      period: 'day',
      spentUsd: 0.42,
      tokens: 12000,
      maxUsd: 0.5,
      maxTokens: null,
      state: 'warning',
    },
  ],
};

/** A valid params (and result) example per method, plus one invalid params each. */
const connectorInfo = {
  name: 'mail',
  use: 'email@1',
  state: 'needs_credential',
  credential: 'password',
  credentials: [{ name: 'password', from: 'secret' }],
  actions: [{ name: 'send', risk: 'external' }],
  events: ['email.received'],
  lastProbe: null,
  breaker: 'closed',
  lastEventAt: null,
  lastError: 'the credential "password" of connector "mail" is not in the editor\'s secret storage',
};

const samples: Record<string, { params: unknown; result?: unknown; invalidParams: unknown }> = {
  'keel/auth': {
    params: { token: 'a'.repeat(64), client: 'keel-cli/0.1.0' },
    result: { daemonVersion: '0.1.0', workspace: '/home/maya/acme' },
    invalidParams: { token: '' },
  },
  'keel/status': { params: {}, result: status, invalidParams: { verbose: true } },
  'keel/status/didChange': { params: status, invalidParams: { ...status, state: 'sleeping' } },
  'keel/workspace/init': {
    params: {},
    result: {
      workspace: '/home/maya/acme',
      created: ['keel.yaml', 'memory/'],
      updated: ['.gitignore'],
      kept: ['runbooks/'],
      gitInitialized: true,
      warnings: [],
    },
    invalidParams: { force: true },
  },
  'keel/shutdown': { params: { reason: 'keel stop' }, result: { pid: 4242 }, invalidParams: { reason: 7 } },
  'keel/memory/search': {
    params: {
      query: 'acme renewal',
      k: 5,
      mode: 'hybrid',
      filter: {
        type: ['customer'],
        tags: ['priority'],
        pathPrefix: 'memory/',
        dateFrom: '2026-01-01',
        dateTo: '2026-12-31',
      },
    },
    result: { results: [searchResult], tookMs: 3.2 },
    invalidParams: { query: '   ' },
  },
  'keel/memory/searchAsOf': {
    params: { query: 'acme renewal', k: 5, mode: 'hybrid', asOf: '2026-01-15T09:30:00Z' },
    result: {
      results: [searchResult],
      tookMs: 41.5,
      snapshot: {
        commit: '2b27542ef538cf9296bae21dc537b0a38c54a8b5',
        committedAt: '2026-01-10T12:00:00+00:00',
        requested: '2026-01-15T09:30:00Z',
        documents: 42,
        cached: false,
        buildMs: 310,
        skipped: ['memory/link.md: a symbolic link, never followed'],
      },
    },
    invalidParams: { query: 'acme', asOf: '--output=/tmp/x' },
  },
  'keel/memory/get': {
    params: { path: 'memory/customers/acme.md' },
    result: {
      path: 'memory/customers/acme.md',
      content: '---\ntype: customer\n---\n# Acme\n',
      frontmatter: { type: 'customer' },
      type: 'customer',
      tags: [],
      date: null,
      reviewBy: null,
      stale: false,
      problems: [],
    },
    invalidParams: { path: '' },
  },
  'keel/index/status': { params: {}, result: indexStatus, invalidParams: { deep: true } },
  'keel/runbooks/list': { params: {}, result: { runbooks: [runbookInfo] }, invalidParams: { all: 1 } },
  'keel/runs/start': {
    params: { runbook: 'onboarding', inputs: { customer: 'memory/customers/acme.md' } },
    result: run,
    invalidParams: { runbook: '' },
  },
  'keel/metrics/advice': {
    params: { since: '2026-11-01' },
    result: {
      since: '2026-11-01T00:00:00.000Z',
      until: '2026-11-25T00:00:00.000Z',
      agents: [
        {
          agent: 'onboarding',
          role: 'Operations',
          runs: 3,
          succeeded: 2,
          costUsd: 0.04,
          costPerSuccessUsd: 0.02,
          reworkRate: 0.5,
        },
      ],
      moves: [
        {
          agent: 'Operations',
          period: 'day',
          refused: 1,
          neededUsd: 0.02,
          from: 'Writer',
          unusedUsd: 0.7,
          text: 'moving $0.0200 of "Writer"\'s daily quota (unused $0.7000) to "Operations" would have covered its 1 refused run today',
        },
      ],
    },
    invalidParams: { since: 3 },
  },
  'keel/runs/forecast': {
    params: { runbook: 'onboarding' },
    result: {
      runbook: 'onboarding',
      tier: 'fast',
      runs: 12,
      p50Usd: 0.012,
      p95Usd: 0.03,
      budgetUsd: 0.5,
      expectedUsd: 0.03,
      basis: 'history',
      costAboveUsd: 0.1,
      waits: false,
      text: 'forecast $0.0120 (p50) to $0.0300 (p95) from 12 past runs at tier fast; budget $0.50',
    },
    invalidParams: { runbook: '' },
  },
  'keel/runs/list': { params: { limit: 20 }, result: { runs: [run] }, invalidParams: { limit: 0 } },
  'keel/runs/get': {
    params: { id: run.id },
    result: {
      run,
      runbook: { path: 'runbooks/onboarding.yaml', blob: 'a'.repeat(40), file: 'changed' },
      steps: [
        {
          id: 'plan',
          type: 'llm',
          status: 'succeeded',
          startedAt: '2026-11-25T08:55:01.000Z',
          endedAt: '2026-11-25T08:55:02.500Z',
          durationMs: 1500,
          input: { prompt: 'Write a welcome plan for Acme.' },
          output: 'Week 1: kickoff call.',
          error: null,
          modelCalls: [
            {
              tier: 'fast',
              model: 'gpt-4o-mini',
              attempt: 2,
              latencyMs: 812,
              inputTokens: 1200,
              outputTokens: 630,
              costUsd: 0.00042,
              outcome: 'ok',
              request: { messages: [{ role: 'user', content: 'Write a welcome plan for Acme.' }] },
              response: { content: 'Week 1: kickoff call.' },
            },
          ],
          retrieved: [{ path: 'memory/customers/acme.md', startLine: 1, endLine: 9, score: 0.91 }],
        },
      ],
    },
    invalidParams: {},
  },
  'keel/memory/why': {
    params: { path: 'memory/customers/acme.md' },
    result: {
      path: 'memory/customers/acme.md',
      blob: 'b'.repeat(40),
      runs: [
        {
          runId: run.id,
          runbook: run.runbook,
          status: 'succeeded',
          startedAt: run.startedAt,
          readAt: run.startedAt,
          steps: ['facts'],
          blob: 'a'.repeat(40),
          current: false,
        },
      ],
      changes: [
        {
          proposalId: 'p-1',
          runId: run.id,
          runbook: run.runbook,
          summary: 'Acme brief',
          status: 'applied',
          commit: 'c'.repeat(40),
          relation: 'produced',
        },
      ],
    },
    invalidParams: { path: '' },
  },
  'keel/provenance/stale': {
    params: {},
    result: {
      runs: [
        {
          runId: run.id,
          runbook: run.runbook,
          status: 'succeeded',
          startedAt: run.startedAt,
          notes: [{ path: 'memory/customers/acme.md', blob: 'a'.repeat(40), currentBlob: null }],
        },
      ],
    },
    invalidParams: { extra: 1 },
  },
  'keel/runs/rerun': {
    params: { id: run.id },
    result: { ...run, status: 'queued' },
    invalidParams: { id: '' },
  },
  'keel/runs/cancel': {
    params: { id: run.id },
    result: { ...run, status: 'cancelled' },
    invalidParams: { id: 3 },
  },
  'keel/gc': {
    params: { apply: true },
    result: {
      items: [
        {
          kind: 'journal',
          id: run.id,
          path: `.keel/runs/${run.id}.jsonl`,
          bytes: 2048,
          reason: 'run succeeded 2026-01-02, older than 90d',
          freeable: true,
        },
      ],
      freeableBytes: 2048,
      applied: true,
    },
    invalidParams: { apply: 'yes' },
  },
  'keel/runs/takeover': {
    params: { id: run.id, fromStep: 'plan', output: { value: { weeks: ['one'] } } },
    result: { ...run, status: 'running', takeovers: 1 },
    invalidParams: { id: run.id, fromStep: '', output: 'not wrapped' },
  },
  'keel/runs/checkpoint': {
    params: { id: run.id, action: 'edit', output: { value: 'plan B' } },
    result: { run: { ...run, status: 'running' }, stepId: 'look' },
    invalidParams: { id: run.id, action: 'edit' },
  },
  'keel/runs/replay': {
    params: { id: run.id, runbook: 'current' },
    result: {
      id: run.id,
      status: 'succeeded',
      modelCalls: 0,
      sideEffects: 0,
      divergence: { stepId: 'plan', kind: 'request', message: 'the prompt changed' },
    },
    invalidParams: { id: '' },
  },
  'keel/runbooks/test': {
    params: { runbook: 'onboarding' },
    result: {
      results: [
        {
          runbook: 'onboarding',
          case: 'new customer',
          file: 'runbooks/tests/onboarding.test.yaml',
          passed: true,
          status: 'succeeded',
          failures: [],
          durationMs: 42,
          cassetteSource: 'scripted',
          notes: [],
        },
      ],
    },
    invalidParams: { runbook: 5 },
  },
  'keel/evals/run': {
    params: { runbook: 'reply', tier: 'strong', repeat: 3, baseline: false },
    result: {
      at: '2026-11-25T09:10:00.000Z',
      results: [
        {
          runbook: 'reply',
          case: 'kickoff time',
          tier: 'strong',
          repeat: 0,
          model: 'gpt-4o-2024-08-06',
          passed: true,
          score: 0.95,
          status: 'succeeded',
          costUsd: 0.0012,
          tokens: 420,
          latencyMs: 830,
          checks: [
            { kind: 'contains', passed: true, score: 1, detail: null },
            { kind: 'rubric', passed: true, score: 0.9, detail: 'It names the day and the time.' },
          ],
          reasoning: 'It names the day and the time.',
        },
      ],
      baseline: false,
      drift: {
        runbook: 'reply',
        tier: 'strong',
        at: '2026-11-25T09:10:00.000Z',
        baselineAt: '2026-11-01T09:10:00.000Z',
        tolerance: 0.1,
        cases: [
          {
            case: 'kickoff time',
            baselineScore: 0.95,
            score: 0.95,
            baselineModel: 'gpt-4o',
            model: 'gpt-4o-2024-08-06',
          },
        ],
      },
    },
    invalidParams: { runbook: 'reply', repeat: 0 },
  },
  'keel/evals/report': {
    params: { since: '2026-11-01' },
    result: {
      rows: [
        {
          runbook: 'reply',
          tier: 'fast',
          runs: 2,
          passRate: 0.5,
          meanScore: 0.6,
          costUsd: 0.0004,
          tokens: 900,
          model: 'gpt-4o-mini',
          lastAt: '2026-11-25T09:10:00.000Z',
        },
      ],
      drift: [],
    },
    invalidParams: { since: 5 },
  },
  'keel/evals/changed': {
    params: { runbook: 'reply', tier: 'strong', drift: null },
    invalidParams: { runbook: 'reply', drift: null },
  },
  'keel/runbooks/changed': { params: { runbooks: [runbookInfo] }, invalidParams: { runbooks: [{}] } },
  'keel/runs/changed': { params: run, invalidParams: { ...run, status: 'sleeping' } },
  'keel/approvals/list': {
    params: { status: ['pending', 'stale'] },
    result: { approvals: [proposal] },
    invalidParams: { status: ['maybe'] },
  },
  'keel/approvals/get': {
    params: { id: proposal.id },
    result: {
      proposal,
      current: { 'memory/customers/acme-onboarding.md': null, 'memory/customers/acme.md': '# Old\n' },
    },
    invalidParams: {},
  },
  'keel/approvals/approve': {
    params: { id: proposal.id, edited: { 'memory/customers/acme.md': '# Acme Corp\n' } },
    result: {
      ...proposal,
      status: 'applied',
      decision: {
        kind: 'edited',
        reason: null,
        commit: 'c0ffee'.repeat(6) + 'c0ff',
        at: '2026-11-25T09:00:00.000Z',
      },
    },
    invalidParams: { id: proposal.id, edited: { 'a.md': 3 } },
  },
  'keel/approvals/reject': {
    params: { id: proposal.id, reason: 'Acme asked for a six-week plan.' },
    result: {
      ...proposal,
      status: 'rejected',
      decision: { kind: 'rejected', reason: 'Six weeks.', commit: null, at: '2026-11-25T09:00:00.000Z' },
    },
    invalidParams: { id: proposal.id, reason: '   ' },
  },
  'keel/approvals/changed': { params: { proposal, pending: 1 }, invalidParams: { proposal, pending: -1 } },
  'keel/control/state': { params: {}, result: control, invalidParams: { all: true } },
  'keel/control/emergencyStop': {
    params: { reason: 'A runaway agent' },
    result: control,
    invalidParams: { reason: 5 },
  },
  'keel/control/resume': {
    params: {},
    result: { ...control, stopped: false, stoppedAt: null, reason: null },
    invalidParams: { now: 1 },
  },
  'keel/control/changed': { params: control, invalidParams: { ...control, stopped: 'yes' } },
  'keel/metrics/report': {
    params: { since: '2026-11-01' },
    result: {
      since: '2026-11-01T00:00:00.000Z',
      until: '2026-11-25T09:10:00.000Z',
      agents: [
        {
          agent: 'onboarding',
          role: 'Customer onboarding lead',
          runs: 12,
          succeeded: 10,
          failed: 2,
          successRate: 0.8333,
          errorRate: 0.1667,
          p50Ms: 4200,
          p95Ms: 9100,
          costUsd: 0.31,
          tokens: 52000,
          throughputPerHour: 0.02,
          approvals: { approved: 6, edited: 3, rejected: 1, policy: 4 },
          reworkRate: 0.4,
          lessons: {
            since: '2026-11-10T09:00:00.000Z',
            reworkBefore: 0.5,
            reworkAfter: 0.25,
            decidedAfter: 4,
          },
        },
      ],
      connectors: [
        {
          connector: 'mail',
          actions: 9,
          succeeded: 7,
          failed: 1,
          open: 0,
          undos: 1,
          approvals: { approved: 5, edited: 1, rejected: 1 },
        },
      ],
      spendByDay: [{ day: '2026-11-24', agent: 'onboarding', costUsd: 0.05, tokens: 9000 }],
    },
    invalidParams: { since: 20261101 },
  },
  'keel/models/setApiKey': {
    params: { apiKey: 'sk-test', origin: 'https://api.openai.com' },
    result: { ok: true },
    invalidParams: { apiKey: 'sk-test' },
  },
  'keel/connectors/setSecret': {
    params: { connector: 'email', credential: 'password', value: 'correct horse battery' },
    result: { ok: true },
    invalidParams: { connector: 'email', credential: 'password' },
  },
  'keel/connectors/list': {
    params: {},
    result: { connectors: [connectorInfo] },
    invalidParams: { name: 'mail' },
  },
  'keel/connectors/check': {
    params: { name: 'mail' },
    result: {
      connectors: [
        {
          ...connectorInfo,
          state: 'ready',
          lastProbe: { ok: true, detail: 'IMAP ok', at: '2026-12-02T09:00:00.000Z' },
        },
      ],
    },
    invalidParams: { name: '' },
  },
  'keel/connectors/changed': { params: { connectors: [connectorInfo] }, invalidParams: { connectors: [{}] } },
  'keel/trust/state': { params: {}, result: trustState, invalidParams: { trusted: true } },
  'keel/trust/grant': {
    params: { wantsHash: 'ab12' },
    result: { ...trustState, trusted: true, grantedAt: '2026-12-02T09:00:00.000Z' },
    invalidParams: { wantsHash: '' },
  },
  'keel/trust/revoke': { params: {}, result: trustState, invalidParams: [] },
  'keel/trust/didChange': { params: trustState, invalidParams: { ...trustState, trusted: 'yes' } },
  'keel/index/didChange': { params: indexStatus, invalidParams: { ...indexStatus, state: 'sleeping' } },
  'keel/index/sync': { params: {}, result: runResult, invalidParams: { force: 1 } },
  'keel/index/refresh': {
    params: { paths: ['memory/customers/acme.md'] },
    result: { paths: 1, tookMs: 42.5 },
    invalidParams: { paths: [] },
  },
  'keel/index/rebuild': { params: {}, result: runResult, invalidParams: [] },
};

function roundTrip(schema: MessageDefinition['params'], value: unknown): unknown {
  return schema.parse(JSON.parse(JSON.stringify(schema.parse(value))));
}

describe('protocol', () => {
  it('has a sample for every message, and every method is unique and namespaced', () => {
    const methods = allMessages.map((m) => m.method);
    expect(new Set(methods).size).toBe(methods.length);
    expect(methods.sort()).toEqual(Object.keys(samples).sort());
    for (const method of methods) expect(method).toMatch(/^keel\/[a-z]+(\/[a-zA-Z]+)*$/);
  });

  for (const message of allMessages) {
    describe(message.method, () => {
      const sample = samples[message.method]!;

      it('round-trips its params through JSON unchanged', () => {
        expect(roundTrip(message.params, sample.params)).toEqual(sample.params);
      });

      if (message.kind === 'request') {
        it('round-trips its result through JSON unchanged', () => {
          expect(roundTrip(message.result, sample.result)).toEqual(sample.result);
        });
      }

      it('rejects invalid params with a message naming the problem', () => {
        const parsed = message.params.safeParse(sample.invalidParams);
        expect(parsed.success).toBe(false);
        expect(parsed.error?.issues.length).toBeGreaterThan(0);
      });
    });
  }

  it('answers a list holding one object twice with two objects, however often it parses', () => {
    // A schema built lazily inside another one would leave zod checking every parse for inputs
    // seen twice, and handing back one object for both (schemas/src/protocol/define.ts).
    for (const method of ['keel/runs/list', 'keel/runbooks/list', 'keel/approvals/list']) {
      const message = allMessages.find((m) => m.method === method)!;
      if (message.kind !== 'request') throw new Error(`${method} is not a request`);
      const result = samples[method]!.result as Record<string, unknown[]>;
      const [key] = Object.keys(result).filter((k) => Array.isArray(result[k]) && result[k].length > 0);
      const twice = { ...result, [key!]: [result[key!]![0], result[key!]![0]] };
      for (let i = 0; i < 3; i++) {
        const parsed = message.result.parse(twice) as Record<string, unknown[]>;
        expect(parsed[key!]![0]).toEqual(parsed[key!]![1]);
        expect(parsed[key!]![0]).not.toBe(parsed[key!]![1]);
      }
    }
  });

  it('lets requests without params be called with nothing at all', () => {
    const status = allMessages.find((m) => m.method === 'keel/status')!;
    expect(status.params.parse(undefined)).toEqual({});
  });
});

describe('webview messages', () => {
  it('accepts every action the sidebar sends and rejects unknown ones', () => {
    for (const type of [
      'ready',
      'initWorkspace',
      'restartDaemon',
      'showLogs',
      'openFolder',
      'emergencyStop',
      'manageWorkspaceTrust',
      'reviewTrust',
    ]) {
      expect(WebviewToHostMessage.parse({ type })).toEqual({ type });
    }
    const search = { type: 'search', requestId: 3, query: 'acme' };
    expect(WebviewToHostMessage.parse(search)).toEqual(search);
    const open = { type: 'openResult', path: 'memory/a.md', line: 12 };
    expect(WebviewToHostMessage.parse(open)).toEqual(open);
    expect(WebviewToHostMessage.safeParse({ type: 'openResult', path: 'memory/a.md', line: 0 }).success).toBe(
      false,
    );
    const problem = { type: 'openResult', path: 'runbooks/bad.yaml', line: 7, column: 11 };
    expect(WebviewToHostMessage.parse(problem)).toEqual(problem);
    expect(WebviewToHostMessage.safeParse({ type: 'rm -rf' }).success).toBe(false);
    expect(WebviewToHostMessage.safeParse('initWorkspace').success).toBe(false);
  });

  it('accepts the run actions with their target and rejects them without one', () => {
    const actions = [
      { type: 'runRunbook', runbook: 'onboarding' },
      { type: 'cancelRun', id: run.id },
      { type: 'showRunTrace', id: run.id },
      { type: 'refreshRunbooks' },
    ];
    for (const action of actions) expect(WebviewToHostMessage.parse(action)).toEqual(action);
    expect(WebviewToHostMessage.safeParse({ type: 'runRunbook', runbook: '' }).success).toBe(false);
    expect(WebviewToHostMessage.safeParse({ type: 'cancelRun' }).success).toBe(false);
    expect(WebviewToHostMessage.safeParse({ type: 'showRunTrace', id: 42 }).success).toBe(false);
  });

  it('round-trips runbooks, runs and a reveal, and rejects a run in an unknown status', () => {
    const invalid: RunbookInfo = {
      ...runbookInfo,
      name: 'broken',
      path: 'runbooks/broken.yaml',
      role: null,
      description: null,
      inputs: [],
      problems: [
        {
          path: 'runbooks/broken.yaml',
          line: 9,
          column: 11,
          severity: 'error',
          message: 'Invalid option: expected one of "retrieve"|"llm"',
        },
      ],
    };
    const messages = [
      { type: 'runbooks' as const, runbooks: [runbookInfo, invalid], error: null },
      { type: 'runbooks' as const, runbooks: [], error: 'The Keel daemon is not running (stopped).' },
      { type: 'runs' as const, runs: [run, { ...run, id: 'r2', status: 'succeeded' as const }], error: null },
      { type: 'revealRun' as const, id: run.id },
    ];
    for (const message of messages) {
      expect(HostToWebviewMessage.parse(JSON.parse(JSON.stringify(message)))).toEqual(message);
    }
    const sleeping = { type: 'runs', runs: [{ ...run, status: 'sleeping' }], error: null };
    expect(HostToWebviewMessage.safeParse(sleeping).success).toBe(false);
    expect(HostToWebviewMessage.safeParse({ type: 'revealRun', id: '' }).success).toBe(false);
  });

  it('accepts the approval actions with their proposal and rejects them without one', () => {
    const actions = [
      { type: 'openProposal', id: proposal.id },
      { type: 'approveProposal', id: proposal.id },
      { type: 'editProposal', id: proposal.id },
      { type: 'rejectProposal', id: proposal.id },
    ];
    for (const action of actions) expect(WebviewToHostMessage.parse(action)).toEqual(action);
    expect(WebviewToHostMessage.safeParse({ type: 'approveProposal', id: '' }).success).toBe(false);
    expect(WebviewToHostMessage.safeParse({ type: 'rejectProposal' }).success).toBe(false);
    // The reason is asked by the extension, never taken from the webview.
    expect(WebviewToHostMessage.parse({ type: 'rejectProposal', id: proposal.id, reason: 'x' })).toEqual({
      type: 'rejectProposal',
      id: proposal.id,
    });
  });

  it('round-trips the approvals list, and rejects a proposal without files or action', () => {
    const stale: Proposal = {
      ...proposal,
      id: 'p2',
      status: 'stale',
      staleFiles: [proposal.changes[0]!.path],
    };
    const messages = [
      { type: 'approvals' as const, approvals: [proposal, stale], error: null },
      { type: 'approvals' as const, approvals: [], error: 'The Keel daemon is not running (stopped).' },
    ];
    for (const message of messages) {
      expect(HostToWebviewMessage.parse(JSON.parse(JSON.stringify(message)))).toEqual(message);
    }
    const empty = { type: 'approvals', approvals: [{ ...proposal, changes: [] }], error: null };
    expect(HostToWebviewMessage.safeParse(empty).success).toBe(false);
  });

  it('round-trips the sidebar state', () => {
    const message = {
      type: 'state' as const,
      state: {
        connection: 'running' as const,
        folder: '/home/maya/acme',
        editorTrusted: false,
        initialized: true,
        daemon: { ...status, trust: trustState },
        restarts: 1,
        nextRestartAt: null,
        lastError: null,
        index: indexStatus,
      },
    };
    expect(HostToWebviewMessage.parse(JSON.parse(JSON.stringify(message)))).toEqual(message);
  });
});
