/** Reads and validates `keel.yaml`. A broken file is reported with its exact location, never thrown. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, WorkspaceConfig, type Problem, type WorkspaceConfigState } from '@keel/schemas';
import { AUTO_APPLY_DEPRECATED } from '../approvals/policy';
import { parseYamlWithSchema, problemAt } from '../files/yamlProblems';
import { ConnectorRegistry } from '../connectors/registry';

export interface LoadedConfig {
  state: WorkspaceConfigState;
  config: WorkspaceConfig | null;
  problems: Problem[];
}

export async function loadConfig(
  workspace: string,
  registry: ConnectorRegistry = new ConnectorRegistry(),
): Promise<LoadedConfig> {
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
  if (!parsed.ok) return { state: 'invalid', config: null, problems: parsed.problems };
  return {
    state: 'valid',
    config: parsed.value,
    problems: [...deprecations(text, parsed.value), ...connectorProblems(text, parsed.value, registry)],
  };
}

/**
 * Connector entries checked against their connector (its settings schema, its credentials): a
 * broken entry is an error at its line, and is left out; the rest of keel.yaml stays in force.
 */
function connectorProblems(text: string, config: WorkspaceConfig, registry: ConnectorRegistry): Problem[] {
  return registry.instances(config).issues.map((issue) => ({
    ...problemAt(text, issue.path, issue.message, CONFIG_FILE),
    severity: 'error' as const,
  }));
}

/** Warnings (the file still works) about settings that changed meaning. */
function deprecations(text: string, config: WorkspaceConfig): Problem[] {
  if (config.approvals.autoApply === undefined) return [];
  return [
    {
      ...problemAt(text, ['approvals', 'autoApply'], AUTO_APPLY_DEPRECATED, CONFIG_FILE),
      severity: 'warning',
      message: AUTO_APPLY_DEPRECATED,
    },
  ];
}
