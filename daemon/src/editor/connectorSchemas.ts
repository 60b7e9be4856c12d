/**
 * What the runbook editor knows of the workspace's connectors: the runbook JSON Schema with one
 * `connector` step shape per connector action (so `use:`, `action:` and the keys of `with:`
 * complete and hover from the actions' own schemas), and the problems of a runbook's connector
 * steps and agent tools against keel.yaml's connectors.
 */
import type { JsonSchema, Problem, Runbook } from '@keel/schemas';
import { inputJsonSchema, type ConnectorInstance } from '../connectors/registry';
import { actionOf } from '../connectors/sdk';
import { problemAt } from '../files/yamlProblems';

/** The runbook schema with the `connector` step split into one shape per connector and action. */
export function runbookSchemaWithConnectors(
  base: JsonSchema,
  instances: readonly ConnectorInstance[],
): JsonSchema {
  const schema = structuredClone(base);
  const union = (schema.properties?.steps as JsonSchema | undefined)?.items as JsonSchema | undefined;
  const branches = union?.oneOf ?? union?.anyOf;
  const index = branches?.findIndex((b) => isConnectorStep(b)) ?? -1;
  if (!branches || index < 0 || instances.length === 0) return schema;
  const generic = branches[index] as JsonSchema;
  const shapes = instances.flatMap((instance) =>
    Object.entries(instance.connector.actions).map(([name, action]): JsonSchema => ({
      ...generic,
      description: `${instance.use} ${name}: ${action.description} (risk: ${action.risk})`,
      properties: {
        ...generic.properties,
        use: {
          const: instance.use,
          description: `${instance.connector.id}: ${instance.connector.description}`,
        },
        action: { const: name, description: `${action.description} (risk: ${action.risk})` },
        with: {
          ...(inputJsonSchema(action) as JsonSchema),
          description: `The arguments of ${instance.use} ${name}; string values are templates.`,
        },
      },
    })),
  );
  branches.splice(index, 1, ...shapes);
  return schema;
}

function isConnectorStep(branch: unknown): boolean {
  const type = (branch as JsonSchema).properties?.type as JsonSchema | undefined;
  return type?.const === 'connector';
}

/**
 * Connector steps whose `use:` or `action:` names nothing, whose `with:` lacks a required argument
 * or has one the action does not take, and agent tools naming an unknown connector action.
 * Values are templates, so their types are checked when the step runs, not here.
 */
export function connectorProblems(
  text: string,
  file: string,
  runbook: Runbook,
  instances: readonly ConnectorInstance[],
  find: (use: string) => ConnectorInstance | null,
): Problem[] {
  const problems: Problem[] = [];
  const at = (path: (string | number)[], message: string): void => {
    problems.push({ ...problemAt(text, path, message, file), severity: 'error' });
  };
  const available = instances.map((i) => i.use).join(', ');
  runbook.steps.forEach((step, i) => {
    if (step.type === 'agent') {
      step.tools.forEach((tool, t) => {
        if (['memory.search', 'memory.read', 'propose', 'fs.outbox@1'].includes(tool)) return;
        const dot = tool.lastIndexOf('.');
        const instance = find(tool.slice(0, dot));
        if (!instance)
          at(
            ['steps', i, 'tools', t],
            `no connector "${tool.slice(0, dot)}" (available: ${available}); name it under "connectors:" in keel.yaml`,
          );
        else if (
          instance.connector.actionsKnown !== false &&
          !actionOf(instance.connector, tool.slice(dot + 1))
        )
          at(
            ['steps', i, 'tools', t],
            `${instance.use} has no action "${tool.slice(dot + 1)}" (it has: ${Object.keys(instance.connector.actions).join(', ')})`,
          );
      });
      return;
    }
    if (step.type !== 'connector') return;
    const instance = find(step.use);
    if (!instance) {
      at(
        ['steps', i, 'use'],
        `no connector "${step.use}" (available: ${available}); name it under "connectors:" in keel.yaml`,
      );
      return;
    }
    // An MCP server not listed yet (untrusted, not started): its action names cannot be checked.
    if (instance.connector.actionsKnown === false) return;
    const action = actionOf(instance.connector, step.action);
    if (!action) {
      at(
        ['steps', i, 'action'],
        `${step.use} has no action "${step.action}" (it has: ${Object.keys(instance.connector.actions).join(', ')})`,
      );
      return;
    }
    const shape = inputJsonSchema(action) as JsonSchema;
    const properties = Object.keys(shape.properties ?? {});
    for (const key of Object.keys(step.with)) {
      if (shape.properties && !properties.includes(key) && shape.additionalProperties === false)
        at(
          ['steps', i, 'with', key],
          `${step.use} ${step.action} takes no "${key}" (it takes: ${properties.join(', ')})`,
        );
    }
    const missing = (shape.required ?? []).filter((key) => !(key in step.with));
    if (missing.length > 0)
      at(
        ['steps', i, 'with'],
        `${step.use} ${step.action} needs ${missing.map((k) => `"${k}"`).join(', ')} under with:`,
      );
  });
  return problems;
}
