/** `retrieve`: a memory search whose results later steps read as `steps.<id>.output`. */
import type { RunbookStep } from '@keel/schemas';
import { renderText } from '../templates';
import type { StepResult, StepRuntime } from './stepRuntime';

type RetrieveStep = Extract<RunbookStep, { type: 'retrieve' }>;

export async function retrieveInput(
  step: RetrieveStep,
  runtime: StepRuntime,
): Promise<{ query: string; k: number }> {
  return { query: await renderText(step.query, runtime.scope), k: step.k };
}

export async function runRetrieve(step: RetrieveStep, runtime: StepRuntime): Promise<StepResult> {
  const { query, k } = await retrieveInput(step, runtime);
  const results = await runtime.memory.search(query, k, step.filter);
  return {
    output: results,
    retrieved: results.map(({ path, startLine, endLine, score }) => ({ path, startLine, endLine, score })),
  };
}
