/**
 * The router is the one place a domain error becomes a JSON-RPC error: each kind answers its code
 * with its message and data unchanged, whichever transport asked.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRequest, ErrorCodes, KeelRpcError, type TrustState } from '@keel/schemas';
import { ApprovalError } from '../../daemon/src/approvals/approvalService';
import { ConductorRequestError } from '../../daemon/src/conductor/conductor';
import { InputError } from '../../daemon/src/conductor/runInputs';
import {
  NotInitialized,
  NotTrusted,
  OperatorError,
  TrustChanged,
  Unavailable,
} from '../../daemon/src/errors';
import { Router } from '../../daemon/src/rpc/router';
import { DaemonAlreadyRunningError } from '../../daemon/src/runtime/workspaceLock';

const Probe = defineRequest({
  method: 'keel/test/probe',
  params: z.object({ count: z.number() }),
  result: z.object({ ok: z.literal(true) }),
});

const state: TrustState = {
  trusted: false,
  workspace: '/home/maya/acme',
  endpoints: [{ purpose: 'models', origin: 'https://api.openai.com', apiKeyEnv: 'OPENAI_API_KEY' }],
  triggers: [],
  rules: [],
  wantsHash: 'ab12',
  grantedAt: null,
  summary: 'Keel would send requests with OPENAI_API_KEY to https://api.openai.com.',
};

/** What a client receives when the handler throws `error`. */
async function answerTo(error: unknown, params: unknown = { count: 1 }): Promise<KeelRpcError> {
  const router = new Router();
  router.handle(Probe, () => {
    throw error;
  });
  const answer = await router
    .dispatch(Probe.method, params, { transport: 'in-process' })
    .catch((e: unknown) => e);
  expect(answer).toBeInstanceOf(KeelRpcError);
  return answer as KeelRpcError;
}

describe('the router maps domain errors to JSON-RPC errors', () => {
  it.each([
    ['OperatorError', new OperatorError('no run "x" in this workspace'), ErrorCodes.InvalidParams],
    ['ConductorRequestError', new ConductorRequestError('no runbook "y"'), ErrorCodes.InvalidParams],
    ['InputError', new InputError('input "n" must be a number, not "x"'), ErrorCodes.InvalidParams],
    ['ApprovalError', new ApprovalError('proposal p1 was already approved'), ErrorCodes.InvalidParams],
    ['NotInitialized', new NotInitialized('run "keel init" first.'), ErrorCodes.WorkspaceNotInitialized],
    [
      'Unavailable',
      new Unavailable('Memory is unavailable: connection refused'),
      ErrorCodes.MemoryUnavailable,
    ],
    ['NotTrusted', new NotTrusted('Starting a run needs your trust', state), ErrorCodes.NotTrusted],
    ['TrustChanged', new TrustChanged('The workspace settings changed', state), ErrorCodes.TrustChanged],
  ])('%s answers its code with its message and data', async (_name, error, code) => {
    const answer = await answerTo(error);
    expect(answer.code).toBe(code);
    expect(answer.message).toBe(error.message);
    expect(answer.data).toEqual(error.data);
  });

  it('answers DaemonAlreadyRunning for a second daemon, naming the one that runs', async () => {
    const holder = {
      pid: 4242,
      mode: 'daemon' as const,
      socketPath: '/run/keel/acme.sock',
      tokenPath: null,
      serving: true,
      startedAt: '2026-01-01T00:00:00Z',
      version: '0.1.0',
    };
    const answer = await answerTo(new DaemonAlreadyRunningError('/home/maya/acme', holder));
    expect(answer.code).toBe(ErrorCodes.DaemonAlreadyRunning);
    expect(answer.message).toMatch(/already running for \/home\/maya\/acme \(pid 4242/);
  });

  it('answers InvalidParams with the zod issues for params that fail their schema', async () => {
    const answer = await answerTo(new Error('never thrown'), { count: 'three' });
    expect(answer.code).toBe(ErrorCodes.InvalidParams);
    expect(answer.message).toMatch(/^Invalid params for keel\/test\/probe: /);
    expect(answer.data).toEqual({ issues: [expect.objectContaining({ path: ['count'] })] });
  });

  it('answers InternalError, naming the method, for anything that is not a domain error', async () => {
    const answer = await answerTo(new TypeError('x is undefined'));
    expect(answer.code).toBe(ErrorCodes.InternalError);
    expect(answer.message).toBe('keel/test/probe failed: x is undefined');
    expect(answer.data).toBeUndefined();
  });
});
