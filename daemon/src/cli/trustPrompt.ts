/**
 * Asking the operator for trust on a terminal: what the workspace wants, in the editor's words,
 * then a yes/no question. Without a terminal nothing is asked: `--yes` grants, otherwise the
 * command refuses with how to grant.
 */
import { createInterface } from 'node:readline/promises';
import {
  describeWants,
  trustQuestion,
  TrustGrantRequest,
  TrustStateRequest,
  type TrustState,
} from '@keel/schemas';
import type { KeelClient } from '../rpc/client';

export class NotTrustedError extends Error {}

export interface TrustPromptOptions {
  /** `--yes`: grant without asking (scripts, CI). */
  yes: boolean;
  /** What needs the trust, for the refusal: "keel run". */
  command: string;
  /** Ask about new or edited triggers too (a long-lived daemon arms them); else only endpoints. */
  triggers: boolean;
}

/** Lines describing what the workspace wants, each marked consented or not. */
export function describeTrust(state: TrustState): string[] {
  const consented = new Set(state.triggers.filter((t) => t.consented).map((t) => t.id));
  const lines = describeWants(state);
  return lines.map((line, index) => {
    const trigger = state.triggers[index - state.endpoints.length];
    const ok = trigger ? consented.has(trigger.id) : state.trusted;
    return `  ${ok ? '[allowed]' : '[asks]   '} ${line}`;
  });
}

function needsAsking(state: TrustState, triggers: boolean): boolean {
  return !state.trusted || (triggers && state.triggers.some((t) => !t.consented));
}

/**
 * Makes sure the operator trusts the workspace before `options.command` goes on: asks on a
 * terminal, grants with `--yes`, throws `NotTrustedError` otherwise (only when endpoints are not
 * consented; pending triggers alone just stay unarmed).
 */
export async function ensureTrusted(client: KeelClient, options: TrustPromptOptions): Promise<TrustState> {
  const state = await client.request(TrustStateRequest, {});
  if (!needsAsking(state, options.triggers)) return state;
  if (options.yes) return client.request(TrustGrantRequest, { wantsHash: state.wantsHash });
  if (process.stdin.isTTY && process.stderr.isTTY) {
    process.stderr.write(`${trustQuestion(state)}\nThis workspace (${state.workspace}) would:\n`);
    process.stderr.write(`${describeTrust(state).join('\n')}\n`);
    if (await askYesNo('Trust it? [y/N] ')) {
      return client.request(TrustGrantRequest, { wantsHash: state.wantsHash });
    }
  }
  if (!state.trusted) {
    throw new NotTrustedError(
      `${options.command} needs your trust in ${state.workspace} first. ${state.summary}\n` +
        'Review and grant it with "keel trust" (or add --yes to trust it without asking).',
    );
  }
  return state;
}

async function askYesNo(question: string): Promise<boolean> {
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await readline.question(question)).trim());
  } finally {
    readline.close();
  }
}
