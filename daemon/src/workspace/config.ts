/** Reads and validates `keel.yaml`. A broken file is reported with its exact location, never thrown. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, WorkspaceConfig, type Problem, type WorkspaceConfigState } from '@keel/schemas';
import { parseYamlWithSchema } from '../files/yamlProblems';

export interface LoadedConfig {
  state: WorkspaceConfigState;
  config: WorkspaceConfig | null;
  problems: Problem[];
}

export async function loadConfig(workspace: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(join(workspace, CONFIG_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { state: 'missing', config: null, problems: [] };
    }
    return {
      state: 'invalid',
      config: null,
      problems: [
        {
          path: CONFIG_FILE,
          line: 1,
          column: 1,
          severity: 'error',
          message: `Cannot read ${CONFIG_FILE}: ${(error as Error).message}`,
        },
      ],
    };
  }
  const parsed = parseYamlWithSchema(text, WorkspaceConfig, CONFIG_FILE);
  return parsed.ok
    ? { state: 'valid', config: parsed.value, problems: [] }
    : { state: 'invalid', config: null, problems: parsed.problems };
}
