/** What a step can use while it runs: the scope, the models, memory, side effects, the budget. */
import type { MemoryDocument, Runbook, SearchFilter, SearchResult } from '@keel/schemas';
import type { RunBudget } from '../budget';
import type { Scope } from '../expressions';
import type { ModelGateway } from '../models/modelGateway';

/** Memory as agents see it: read-only. */
export interface MemoryAccess {
  search(query: string, k: number, filter?: SearchFilter): Promise<SearchResult[]>;
  read(path: string): Promise<MemoryDocument>;
}

export interface StepRuntime {
  runId: string;
  runbook: Runbook;
  workspace: string;
  scope: Scope;
  models: ModelGateway;
  memory: MemoryAccess;
  budget: RunBudget;
  signal: AbortSignal;
  /**
   * Performs a side effect once per key: a key the journal already holds returns the recorded
   * result without performing it again.
   */
  effect(
    key: string,
    connector: string,
    action: string,
    args: Record<string, unknown>,
    perform: () => Promise<unknown>,
  ): Promise<unknown>;
}

export interface StepResult {
  output: unknown;
  retrieved?: { path: string; startLine: number; endLine: number; score: number }[];
}

/** A step failed for a reason the operator can act on (not a crash of Keel). */
export class StepFailedError extends Error {}
