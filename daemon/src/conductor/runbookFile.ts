/**
 * Reads a runbook file's text into a `Runbook` and its problems with exact ranges. Stand-in until
 * the conductor's version (which adds template and condition checks) lands; same signature.
 */
import { Runbook, type Problem } from '@keel/schemas';
import { parseYamlWithSchema } from '../files/yamlProblems';

export function parseRunbook(text: string, path: string): { runbook: Runbook | null; problems: Problem[] } {
  const parsed = parseYamlWithSchema(text, Runbook, path);
  return { runbook: parsed.ok ? parsed.value : null, problems: parsed.problems };
}
