/** `retrieve`: a memory search whose results later steps read as `steps.<id>.output`. */
import type { RunbookStep } from '@keel/schemas';
import { renderText } from '../expressions';
import type { StepResult, StepRuntime } from './stepRuntime';

type RetrieveStep = Extract<RunbookStep, { type: 'retrieve' }>;

export function retrieveInput(step: RetrieveStep, runtime: StepRuntime): { query: string; k: number } {
  return { query: renderText(step.query, runtime.scope), k: step.k };
}

export async function runRetrieve(step: RetrieveStep, runtime: StepRuntime): Promise<StepResult> {
  const { query, k } = retrieveInput(step, runtime);
  const results = await runtime.memory.search(query, k, step.filter);
  return {
    output: results.map(({ path, startLine, endLine, heading, text, score, stale }) => ({
      path,
      startLine,
      endLine,
      heading,
      text,
      score,
      stale,
    })),
    retrieved: results.map(({ path, startLine, endLine, score }) => ({ path, startLine, endLine, score })),
  };
}
