/**
 * Runbooks, `apiVersion: keel/v1`: a role agent with a contract (inputs, budget, steps, outputs,
 * success criteria, escalation). Templates (`{{ inputs.customer }}`) and conditions
 * (`steps.plan.output.ok == true`) are Liquid expressions, evaluated without `eval`.
 */
import { z } from 'zod';

const Identifier = z
  .string()
  .regex(/^[a-z][a-zA-Z0-9_-]*$/, {
    error: 'must start with a lowercase letter; letters, digits, - and _ only',
  });

/** A template: text with `{{ expression }}` parts. A template that is one expression yields its value. */
const Template = z.string();
/** A condition: a Liquid expression such as `inputs.amount > 1000 and steps.plan.output.ok`. */
const Expression = z.string().min(1);

/**
 * A JSON Schema for one value (inputs, outputs, structured model output). Kept open: any JSON
 * Schema keyword is accepted and checked when the value is validated.
 */
export const ValueSchema: z.ZodType<Record<string, unknown>> = z.looseObject({
  type: z.enum(['string', 'number', 'integer', 'boolean', 'array', 'object']).optional(),
  description: z.string().optional(),
  enum: z.array(z.unknown()).optional(),
  default: z.unknown().optional(),
});
export type ValueSchema = z.infer<typeof ValueSchema>;

export const RunbookInput = z.strictObject({
  type: z.enum(['string', 'number', 'integer', 'boolean']).default('string'),
  description: z.string().optional(),
  /** Inputs are required unless they have a default or say `required: false`. */
  required: z.boolean().optional(),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  enum: z
    .array(z.union([z.string(), z.number()]))
    .min(1)
    .optional(),
});
export type RunbookInput = z.infer<typeof RunbookInput>;

export const Budget = z.strictObject({
  /** Largest spend of one run in US dollars; a model call that could pass it is not made. */
  maxUsd: z.number().positive().default(0.5),
  /** Largest number of model tokens (input + output) of one run. */
  maxTokens: z.number().int().positive().default(100_000),
  /** Largest number of steps executed (agent iterations count one each). */
  maxSteps: z.number().int().positive().default(50),
  /** Longest wall time of one run, in seconds. */
  maxWallSeconds: z.number().positive().default(600),
});
export type Budget = z.infer<typeof Budget>;

const StepBase = {
  /** Unique within the runbook; later steps read this step's result as `steps.<id>`. */
  id: Identifier,
  /** Runs the step only when this condition holds; otherwise it is skipped. */
  when: Expression.optional(),
};

const SearchFilterShape = z.strictObject({
  type: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  tags: z.array(z.string()).min(1).optional(),
  pathPrefix: z.string().min(1).optional(),
});

export const RetrieveStep = z.strictObject({
  ...StepBase,
  type: z.literal('retrieve'),
  /** The search query, a template. */
  query: Template,
  k: z.number().int().min(1).max(50).default(5),
  filter: SearchFilterShape.optional(),
});

export const LlmStep = z.strictObject({
  ...StepBase,
  type: z.literal('llm'),
  /** Overrides the runbook's tier for this step. */
  tier: Identifier.optional(),
  system: Template.optional(),
  prompt: Template,
  /** When given, the answer must be JSON matching this schema; an invalid answer is re-asked once. */
  schema: ValueSchema.optional(),
  maxOutputTokens: z.number().int().positive().max(32_000).default(1_024),
  temperature: z.number().min(0).max(2).optional(),
});

/** Tools an `agent` step may be allowed. Connectors are named with their version. */
export const AgentTool = z.enum(['memory.search', 'memory.read', 'propose', 'fs.outbox@1']);
export type AgentTool = z.infer<typeof AgentTool>;

export const AgentStep = z.strictObject({
  ...StepBase,
  type: z.literal('agent'),
  tier: Identifier.optional(),
  system: Template.optional(),
  /** What the agent must achieve, a template. */
  goal: Template,
  /** The allow-list: the agent can call these tools and no others. */
  tools: z.array(AgentTool).min(1),
  /** Model turns before the step gives up. */
  maxIterations: z.number().int().min(1).max(50).default(8),
  maxOutputTokens: z.number().int().positive().max(32_000).default(1_024),
});

export const ProposeStep = z.strictObject({
  ...StepBase,
  type: z.literal('propose'),
  /** Workspace-relative file the change is for, a template. */
  path: Template,
  /** The proposed full content of the file, a template. */
  content: Template,
  summary: Template.default('Proposed change'),
});

export const ConnectorStep = z.strictObject({
  ...StepBase,
  type: z.literal('connector'),
  /** A versioned connector: `fs.outbox@1`. */
  use: z.enum(['fs.outbox@1']),
  action: z.string().min(1).default('write'),
  /** The action's arguments; string values are templates. */
  with: z.record(z.string(), z.unknown()).default({}),
});

export const RunbookStep = z.discriminatedUnion('type', [
  RetrieveStep,
  LlmStep,
  AgentStep,
  ProposeStep,
  ConnectorStep,
]);
export type RunbookStep = z.infer<typeof RunbookStep>;
export type StepType = RunbookStep['type'];

export const RunbookOutput = z.strictObject({
  description: z.string().optional(),
  /** A template, usually one expression: `{{ steps.plan.output }}`. */
  value: Template,
  /** JSON Schema the value must satisfy. */
  schema: ValueSchema.optional(),
});

export const SuccessCriterion = z.union([
  Expression,
  z.strictObject({ check: Expression, description: z.string().optional() }),
]);

export const Escalation = z.strictObject({
  /** Who is told: the operator, in the sidebar and the run's trace. */
  to: z.literal('operator').default('operator'),
  /** Shown to the operator when the run escalates, a template. */
  message: Template.optional(),
  /** A stronger tier for one more attempt of a model step that failed to give a valid answer. */
  tier: Identifier.optional(),
});

export const Runbook = z
  .strictObject({
    apiVersion: z.literal('keel/v1', { error: 'runbooks start with "apiVersion: keel/v1"' }),
    name: Identifier,
    /** The role this agent plays in the company: "Customer onboarding lead". */
    role: z.string().min(1),
    description: z.string().min(1),
    inputs: z.record(Identifier, RunbookInput).default({}),
    /** The model tier (from keel.yaml `models.tiers`) used unless a step says otherwise. */
    model: z.strictObject({ tier: Identifier.default('fast') }).prefault({}),
    budget: Budget.prefault({}),
    steps: z.array(RunbookStep).min(1, { error: 'a runbook needs at least one step' }),
    outputs: z.record(Identifier, RunbookOutput).default({}),
    /** Conditions that must hold at the end for the run to count as a success. */
    success: z.array(SuccessCriterion).default([]),
    escalation: Escalation.prefault({}),
  })
  .superRefine((runbook, context) => {
    const seen = new Set<string>();
    runbook.steps.forEach((step, index) => {
      if (seen.has(step.id)) {
        context.addIssue({
          code: 'custom',
          path: ['steps', index, 'id'],
          message: `step id "${step.id}" is used twice; step ids must be unique`,
        });
      }
      seen.add(step.id);
    });
  });
export type Runbook = z.infer<typeof Runbook>;

/** A runbook test file, `runbooks/tests/<name>.test.yaml`: cases run offline from cassettes. */
export const RunbookTestFile = z.strictObject({
  runbook: Identifier,
  cases: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        inputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
        /** Recorded model responses, relative to the test file. */
        cassette: z.string().min(1),
        expect: z
          .strictObject({
            outcome: z.enum(['succeeded', 'failed', 'budget_exceeded', 'escalated']).default('succeeded'),
            /** Per output: the text it must contain, or `equals` for an exact value. */
            outputs: z
              .record(
                z.string(),
                z.strictObject({ contains: z.string().optional(), equals: z.unknown().optional() }),
              )
              .default({}),
            /** Files under outbox/ the run must write. */
            outbox: z.array(z.string()).default([]),
          })
          .prefault({}),
      }),
    )
    .min(1),
});
export type RunbookTestFile = z.infer<typeof RunbookTestFile>;

/** One recorded model exchange; a cassette is a list of them in call order. */
export const CassetteEntry = z.object({
  stepId: z.string(),
  /** 0-based index of the call within its step (agent steps make several). */
  call: z.number().int().min(0),
  /** sha256 of the request's messages and tools, to notice a prompt that changed. */
  requestHash: z.string(),
  response: z.object({
    content: z.string().nullable(),
    toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.string() })).default([]),
    finishReason: z.string().nullable(),
    usage: z.object({ inputTokens: z.number().int(), outputTokens: z.number().int() }),
    model: z.string(),
  }),
});
export type CassetteEntry = z.infer<typeof CassetteEntry>;

export const Cassette = z.object({
  version: z.literal(1),
  runbook: z.string(),
  recordedAt: z.string(),
  entries: z.array(CassetteEntry),
});
export type Cassette = z.infer<typeof Cassette>;
