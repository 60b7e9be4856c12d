/**
 * Runbooks, `apiVersion: keel/v1`: a role agent with a contract (inputs, budget, steps, outputs,
 * success criteria, escalation). Templates (`{{ inputs.customer }}`) and conditions
 * (`steps.plan.output.ok == true`) are Liquid expressions, evaluated without `eval`.
 */
import { z } from 'zod';
import { SearchFilter, SearchResult } from './protocol/memory';
import { EvalSection } from './runbookEval';

const Identifier = z.string().regex(/^[a-z][a-zA-Z0-9_-]*$/, {
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
  type: z.enum(['string', 'number', 'integer', 'boolean']).default('string').describe('The kind of value.'),
  description: z.string().optional().describe('Shown to whoever starts a run.'),
  required: z
    .boolean()
    .optional()
    .describe('Inputs are required unless they have a default or say `required: false`.'),
  default: z
    .union([z.string(), z.number(), z.boolean()])
    .optional()
    .describe('The value when none is given.'),
  enum: z
    .array(z.union([z.string(), z.number()]))
    .min(1)
    .optional()
    .describe('The only values allowed.'),
});
export type RunbookInput = z.infer<typeof RunbookInput>;

export const Budget = z.strictObject({
  maxUsd: z
    .number()
    .positive()
    .default(0.5)
    .describe('Largest spend of one run in US dollars; a model call that could pass it is not made.'),
  maxTokens: z
    .number()
    .int()
    .positive()
    .default(100_000)
    .describe('Largest number of model tokens (input + output) of one run.'),
  maxSteps: z
    .number()
    .int()
    .positive()
    .default(50)
    .describe('Largest number of steps executed (agent iterations count one each).'),
  maxWallSeconds: z.number().positive().default(600).describe('Longest wall time of one run, in seconds.'),
});
export type Budget = z.infer<typeof Budget>;

export const StepRetry = z.strictObject({
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .max(10)
    .default(3)
    .describe('Attempts in all, the first included: 3 tries twice more after a failure.'),
  backoffSeconds: z
    .number()
    .min(0)
    .max(300)
    .default(1)
    .describe('Seconds before the second attempt, doubled before each next one (at most 5 minutes).'),
});
export type StepRetry = z.infer<typeof StepRetry>;

const StepBase = {
  id: Identifier.describe("Unique within the runbook; later steps read this step's result as `steps.<id>`."),
  when: Expression.optional().describe(
    'Runs the step only when this condition holds; otherwise it is skipped.',
  ),
  needs: z
    .array(Identifier)
    .optional()
    .describe(
      'The steps that must end before this one starts; without it, the step before it. Steps whose needs have all ended run at the same time (keel.yaml `runbooks.parallelSteps`).',
    ),
  retry: StepRetry.optional().describe(
    'Tries the step again when it fails or times out (not when the operator rejects, the budget is spent or the run is stopped); each attempt is in the trace.',
  ),
  timeoutSeconds: z
    .number()
    .positive()
    .max(86_400)
    .optional()
    .describe(
      'Longest time one attempt may take, in seconds; past it the attempt is stopped and fails. Time waiting for the operator does not count.',
    ),
};

const MaxOutputTokens = z
  .number()
  .int()
  .positive()
  .max(32_000)
  .default(1_024)
  .describe('Largest answer of one model call, in tokens.');

export const RetrieveStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('retrieve'),
    query: Template.describe('The search query, a template.'),
    k: z.number().int().min(1).max(50).default(5).describe('How many results to keep.'),
    filter: SearchFilter.unwrap()
      .optional()
      .describe(
        'Restricts the search: `type`, `tags` (+ `tagsMatch: any|all`), `path` (prefix or glob), `since`/`until` (`30d`, `12h`, `2w` or YYYY-MM-DD), `excludeStale`.',
      ),
  })
  .describe("Searches memory; the step's output is the list of hits.");

/** A model step's own route: chosen when the step starts, kept in the journal (models/routing.ts). */
export const StepModel = z
  .strictObject({
    route: z.literal('cheapest-passing').describe('The cheapest of `tiers` whose latest eval passed.'),
    tiers: z
      .array(Identifier)
      .min(1)
      .describe('The tiers the route chooses among (keel.yaml `models.tiers`).'),
    passRate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("Share of a tier's latest eval that must pass (1 by default)."),
  })
  .describe(
    "This step's own route, instead of the runbook's tier: `{ route: cheapest-passing, tiers: [fast, strong] }`.",
  );
export type StepModel = z.infer<typeof StepModel>;

export const LlmStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('llm'),
    tier: Identifier.optional().describe("Overrides the runbook's tier for this step."),
    model: StepModel.optional(),
    system: Template.optional().describe('The system message, a template.'),
    prompt: Template.describe('The user message, a template.'),
    schema: ValueSchema.optional().describe(
      'When given, the answer must be JSON matching this schema; an invalid answer is re-asked once.',
    ),
    maxOutputTokens: MaxOutputTokens,
    temperature: z.number().min(0).max(2).optional().describe('Sampling temperature, 0 to 2.'),
  })
  .describe('One model call: a prompt, answered with text or with JSON matching `schema`.');

/**
 * Tools an `agent` step may be allowed: Keel's own, and connector actions as `<connector>.<action>`
 * (a keel.yaml connector name, or a built-in: `email.send`, `fs.outbox.write`). `fs.outbox@1` is the
 * outbox's write under its first name.
 */
export const AgentTool = z.union([
  z.enum(['memory.search', 'memory.read', 'propose', 'fs.outbox@1']),
  z
    .string()
    .regex(/^[a-z][a-z0-9.-]*(@[0-9]+)?\.[A-Za-z][A-Za-z0-9_-]*$/, {
      error: 'a tool is memory.search, memory.read, propose, or a connector action as <connector>.<action>',
    })
    .describe('A connector action: `<connector>.<action>`, like `email.send`.'),
]);
export type AgentTool = z.infer<typeof AgentTool>;

export const AgentStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('agent'),
    tier: Identifier.optional().describe("Overrides the runbook's tier for this step."),
    model: StepModel.optional(),
    system: Template.optional().describe('The system message, a template.'),
    goal: Template.describe('What the agent must achieve, a template.'),
    tools: z
      .array(AgentTool)
      .default([])
      .describe('The allow-list: the agent can call these tools and no others.'),
    runbooks: z
      .array(Identifier)
      .default([])
      .describe(
        'Runbooks the agent may hand work off to, each a tool (`handoff_<name>`) taking its inputs: the conductor runs the one the model picks as a child run and answers with its outputs.',
      ),
    maxIterations: z
      .number()
      .int()
      .min(1)
      .max(50)
      .default(8)
      .describe('Model turns before the step gives up.'),
    maxOutputTokens: MaxOutputTokens,
  })
  .describe('A tool-calling loop towards a goal, with an allow-list of tools.');

export const ProposeStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('propose'),
    path: Template.describe('Workspace-relative file the change is for, a template.'),
    content: Template.optional().describe(
      'The proposed full content of the file, a template. Give `content` or `append`, not both.',
    ),
    append: z
      .strictObject({
        under: Template.describe('The heading of the section, one line, a template: "## Payments".'),
        text: Template.describe(
          'What to add at the end of that section, a template. It is data: a line that would start a heading, frontmatter fence, thematic break, code fence or HTML block is escaped with a backslash.',
        ),
      })
      .optional()
      .describe(
        'Instead of `content`: the file as it is when the step runs (it must exist), with `text` added at the end of the section under the heading `under` (the heading is added at the end of the file when missing). Nothing else of the file changes.',
      ),
    summary: Template.default('Proposed change').describe('One line shown with the approval, a template.'),
    reasoning: Template.default('').describe('Why the change is proposed, shown with the diff, a template.'),
    onReject: z
      .enum(['fail', 'continue'])
      .default('fail')
      .describe(
        'When the operator rejects the change: end the run (fail), or go on with steps.<id>.output.decision "rejected" and its reason (continue).',
      ),
  })
  .refine((step) => (step.content === undefined) !== (step.append === undefined), {
    error:
      'a propose step gives either `content` (the whole file) or `append` (text for one section), not both',
  })
  .describe('Proposes a file change; it is written only once the operator approves it.');

/** A SQL identifier of an analytics table or column: letters, digits and _, starting with a letter. */
export const AnalyticsName = z
  .string()
  .max(63)
  .regex(/^[a-z][a-z0-9_]*$/, {
    error: 'an analytics table or column name is lowercase letters, digits and _, starting with a letter',
  })
  .refine((name) => !name.startsWith('keel') && !name.startsWith('_keel'), {
    error: 'names starting with "keel" are kept for Keel\'s own metrics (keel.runs, keel.steps)',
  });

/**
 * Where a step's rows go: an analytics table in `.keel/analytics.duckdb`, read by `query` steps.
 * Stored once per run and step (a resumed or re-run step replaces its own rows), or by `key`.
 */
export const AnalyticsInto = z
  .strictObject({
    table: AnalyticsName.describe(
      'The analytics table the rows go to; created with column types taken from the rows.',
    ),
    rows: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Where the rows are in the output: a JSON pointer (`/items`) or a template of one expression (`{{ output.items }}`); the output itself when absent.',
      ),
    mode: z
      .enum(['replace', 'append'])
      .default('append')
      .describe(
        '`replace` empties the table first; `append` adds the rows (a step run again replaces the rows it stored before, or the rows with the same `key`).',
      ),
    key: z
      .array(AnalyticsName)
      .min(1)
      .optional()
      .describe('Columns that name a row: a stored row with the same key is replaced, never doubled.'),
  })
  .describe('Stores the rows of the output in an analytics table that `query` steps read.');
export type AnalyticsInto = z.infer<typeof AnalyticsInto>;

/** Named values of a query, bound as parameters (`$since`), never spliced into its text. */
const QueryParams = z
  .record(AnalyticsName, z.union([Template, z.number(), z.boolean(), z.null()]))
  .default({})
  .describe('Named parameters, `$name` in the SQL; strings are templates. Bound, never pasted into the SQL.');

export const QueryStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('query'),
    sql: z
      .string()
      .min(1)
      .max(20_000)
      .describe(
        "One read-only SELECT over the analytics tables and Keel's metrics (`keel.runs`, `keel.steps`, `keel.model_calls`, `keel.approvals`); values come in as `$name` parameters.",
      ),
    params: QueryParams,
    maxRows: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1_000)
      .describe('Most rows kept; past it the step fails rather than answer with part of the rows.'),
  })
  .describe(
    "A read-only SQL query over the analytics tables and Keel's own metrics; its rows are the step's output (`steps.<id>.output.rows`).",
  );

export const ImportStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('import'),
    path: Template.describe(
      'A workspace-relative export file, `.csv` or `.json` (an array of objects), a template.',
    ),
    into: AnalyticsInto,
  })
  .describe('Reads an export file of the workspace into an analytics table.');

export const ConnectorStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('connector'),
    use: z
      .string()
      .regex(/^[a-z][a-z0-9.-]*(@[0-9]+)?$/, {
        error:
          'a connector named under "connectors:" in keel.yaml, or a built-in with its version (fs.outbox@1)',
      })
      .describe(
        'A connector: its name under `connectors:` in keel.yaml (`email`), or a built-in with its version (`fs.outbox@1`).',
      ),
    action: z.string().min(1).default('write').describe("The connector's action."),
    with: z
      .record(z.string(), z.unknown())
      .default({})
      .describe("The action's arguments; string values are templates."),
    into: AnalyticsInto.optional(),
  })
  .describe('A side effect through a versioned connector, idempotent per run and step.');

/** A `forEach` hand-off starts at most this many child runs: a longer list fails the step, naming it. */
export const MAX_FOR_EACH_ITEMS = 20;

export const HandoffStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('runbook'),
    runbook: Identifier.describe('The `name` of the runbook this step hands off to.'),
    inputs: z
      .record(Identifier, z.union([Template, z.number(), z.boolean()]))
      .default({})
      .describe(
        "The child run's inputs, by name; strings are templates (with `forEach`, they also read `item` and `index`).",
      ),
    forEach: Template.optional().describe(
      `One expression giving a list, \`{{ steps.overdue.output.customers }}\`: one child run per item (at most ${MAX_FOR_EACH_ITEMS}), one after another, each given \`item\` and \`index\` in its inputs' templates. The step's output is the list of the children's ends ({ index, runId, status, outputs, error }); it fails when a child failed or ran out of budget, after the others ran. A child the operator stopped is an outcome, not a failure.`,
    ),
  })
  .describe(
    "Hands off to another runbook: starts it as a child run, waits for it (across restarts) and takes its outputs as this step's output. The child's spend counts against this run's budget.",
  );

export const CheckpointStep = z
  .strictObject({
    ...StepBase,
    type: z.literal('checkpoint'),
    message: Template.default('Look at the run before it goes on').describe(
      'What the operator is asked to look at, a template.',
    ),
    show: Template.optional().describe(
      "The state shown to the operator, a template (one bare expression keeps its value: `{{ steps.plan.output }}`); by default every earlier step's output. Continuing makes it the step's output.",
    ),
  })
  .describe(
    "Pauses the run for the operator, holding no concurrency slot: continue (the step's output is what was shown), edit (the operator's value is the output) or stop (the run ends cancelled).",
  );

export const RunbookStep = z.discriminatedUnion('type', [
  RetrieveStep,
  LlmStep,
  AgentStep,
  ProposeStep,
  ConnectorStep,
  HandoffStep,
  CheckpointStep,
  QueryStep,
  ImportStep,
]);
export type RunbookStep = z.infer<typeof RunbookStep>;
export type StepType = RunbookStep['type'];

export const RunbookOutput = z.strictObject({
  description: z.string().optional().describe('What this output is.'),
  value: Template.describe('A template, usually one expression: `{{ steps.plan.output }}`.'),
  schema: ValueSchema.optional().describe('JSON Schema the value must satisfy.'),
});

export const SuccessCriterion = z.union([
  Expression,
  z.strictObject({
    check: Expression.describe('The condition.'),
    description: z.string().optional().describe('Why it matters, shown when it fails.'),
  }),
]);

export const Escalation = z.strictObject({
  to: z
    .literal('operator')
    .default('operator')
    .describe("Who is told: the operator, in the sidebar and the run's trace."),
  message: Template.optional().describe('Shown to the operator when the run escalates, a template.'),
  tier: Identifier.optional().describe(
    'A stronger tier for one more attempt of a model step that failed to give a valid answer.',
  ),
});

/** A trigger's run inputs by name; string values are templates that read `trigger.*`. */
const TriggerInputs = z
  .record(Identifier, z.union([Template, z.number(), z.boolean()]))
  .optional()
  .describe(
    "The run's inputs, by name; strings are templates that may read `{{ trigger.path }}`, `{{ trigger.firedAt }}`.",
  );

export const ManualTrigger = z
  .strictObject({ type: z.literal('manual') })
  .describe('Started by the operator: from the editor or with `keel run`.');

export const ScheduleTrigger = z
  .strictObject({
    type: z.literal('schedule'),
    cron: z
      .string()
      .min(1)
      .describe(
        'Five cron fields, minute hour day-of-month month day-of-week: "0 9 * * 1" is Mondays at 09:00.',
      ),
    timezone: z
      .string()
      .min(1)
      .optional()
      .describe('The IANA time zone the cron is read in, "Europe/Amsterdam"; the system\'s when not given.'),
    inputs: TriggerInputs,
    eval: z
      .strictObject({
        tier: z.string().min(1).optional().describe('Every model step on this keel.yaml tier.'),
        repeat: z.number().int().min(1).max(20).default(1).describe('Runs of each case.'),
      })
      .optional()
      .describe(
        "Each slot runs the runbook's `evals:` cases (as `keel eval`) instead of the runbook: drift from the baseline alerts.",
      ),
  })
  .describe(
    'Runs on a cron schedule while the daemon runs; slots missed while it was down fire once when it starts.',
  );

export const FileChangedTrigger = z
  .strictObject({
    type: z.literal('fileChanged'),
    paths: z
      .array(z.string().min(1))
      .min(1)
      .describe('Workspace-relative globs of the files to watch: "memory/calls/**/*.md".'),
    inputs: TriggerInputs,
  })
  .describe(
    "Runs once per settled change (saved, then left alone for a moment) of a matching file; Keel's own writes never fire it.",
  );

/**
 * A test on one field of an event's payload: `contains` (text, ignoring case), or any test of an
 * action rule (`equals`, `in`/`notIn` a list of `approvals.lists` or inline, `matches` a glob,
 * `gt`...). All the tests given must hold; a list field (`to`) passes `in` when every item does.
 */
export const EventFieldTest = z
  .strictObject({
    contains: z.string().min(1).optional().describe('The text holds this, ignoring case.'),
    equals: z.union([z.string(), z.number(), z.boolean()]).optional().describe('Exactly this value.'),
    in: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe(
        'In this list (a name from keel.yaml `approvals.lists`, or inline); domains match addresses.',
      ),
    notIn: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe('Not in this list (a name from keel.yaml `approvals.lists`, or inline).'),
    matches: z.string().min(1).optional().describe('Matches this glob: "*@acme.com", "Invoice *".'),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
  })
  .refine((test) => Object.keys(test).length > 0, {
    error: 'say what to test: contains, equals, in, notIn, matches, gt, gte, lt or lte',
  });
export type EventFieldTest = z.infer<typeof EventFieldTest>;

export const EventTrigger = z
  .strictObject({
    type: z.literal('event'),
    event: z
      .enum([
        'email.received',
        'calendar.upcoming',
        'http.webhook',
        'invoice.paid',
        'invoice.payment_failed',
        'invoice.overdue',
        'charge.dispute.created',
      ])
      .describe(
        'The event that starts a run: `email.received`, a new message in the watched folder; `calendar.upcoming`, a calendar event about to start; `http.webhook`, a signed delivery to an http@1 connector (POST /hooks/<name>); `invoice.paid`, `invoice.payment_failed`, `invoice.overdue`, `charge.dispute.created`, a signed Stripe webhook to a billing@1 connector (POST /hooks/<name>).',
      ),
    connector: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/)
      .optional()
      .describe(
        'The keel.yaml connector whose events start runs; needed when several connectors emit the event.',
      ),
    filter: z
      .record(z.string().min(1), EventFieldTest)
      .optional()
      .describe(
        'Only events whose payload fields pass every test start a run: `{ from: { in: customers }, subject: { contains: invoice } }`.',
      ),
    inputs: TriggerInputs.describe(
      "The run's inputs, by name; strings are templates that read the event as `{{ trigger.event.subject }}` (`from`, `to`, `subject`, `text`, `messageId`, `thread`). Its text is untrusted: it is fenced as data; `{{ trigger.event.raw.from }}` is the bare value.",
    ),
  })
  .describe(
    'Runs once per matching event of a trusted connector (polled while the daemon runs); what such a run proposes always waits for the operator unless a keel.yaml rule says `events: true`.',
  );
export type EventTrigger = z.infer<typeof EventTrigger>;

export const RunbookTrigger = z.discriminatedUnion('type', [
  ManualTrigger,
  ScheduleTrigger,
  FileChangedTrigger,
  EventTrigger,
]);
export type RunbookTrigger = z.infer<typeof RunbookTrigger>;
export type ScheduleTrigger = z.infer<typeof ScheduleTrigger>;
export type FileChangedTrigger = z.infer<typeof FileChangedTrigger>;

/**
 * The runbook's model: a fixed `tier`, or a `route` that picks, when each run starts, the
 * cheapest of `tiers` whose latest `keel eval` passed (models/routing.ts). With a route, `tier`
 * is the first of `tiers`: what runs no choice was made for use (`keel eval` without `--tier`).
 */
export const RunbookModel = z
  .strictObject({
    tier: Identifier.default('fast').describe('A tier from keel.yaml `models.tiers`.'),
    route: z
      .literal('cheapest-passing')
      .optional()
      .describe(
        'Each run uses the cheapest of `tiers` whose latest eval passed; a step whose answer fails its schema goes on to the next tier.',
      ),
    tiers: z
      .array(Identifier)
      .min(1)
      .optional()
      .describe('The tiers a `route` chooses among (from keel.yaml `models.tiers`).'),
    passRate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("Share of a tier's latest eval that must pass for the route to choose it (1 by default)."),
  })
  .superRefine((model, context) => {
    if (model.route && !model.tiers)
      context.addIssue({ code: 'custom', path: ['tiers'], message: 'a route needs `tiers: [fast, strong]`' });
    if (!model.route && (model.tiers || model.passRate !== undefined))
      context.addIssue({
        code: 'custom',
        path: ['route'],
        message: '`tiers` and `passRate` need `route: cheapest-passing`',
      });
  })
  .overwrite((model) => (model.route && model.tiers ? { ...model, tier: model.tiers[0]! } : model));
export type RunbookModel = z.infer<typeof RunbookModel>;

export const Runbook = z
  .strictObject({
    apiVersion: z
      .literal('keel/v1', { error: 'runbooks start with "apiVersion: keel/v1"' })
      .describe('The runbook format: `keel/v1`.'),
    name: Identifier.describe("The runbook's name, used to start it and by its tests."),
    role: z.string().min(1).describe('The role this agent plays in the company: "Customer onboarding lead".'),
    description: z.string().min(1).describe('What the runbook does, in a sentence or two.'),
    inputs: z
      .record(Identifier, RunbookInput)
      .default({})
      .describe('What a run is given, by name; templates read them as `inputs.<name>`.'),
    triggers: z
      .array(RunbookTrigger)
      .default([{ type: 'manual' }])
      .describe('What starts a run: `manual` (the default), a `schedule`, a `fileChanged`, an `event`.'),
    model: RunbookModel.prefault({}).describe(
      'The model tier (from keel.yaml `models.tiers`) used unless a step says otherwise: `{ tier }`, or `{ route: cheapest-passing, tiers: [...] }` to let evals pick it per run.',
    ),
    budget: Budget.prefault({}).describe('Limits of one run; the run stops when one would be passed.'),
    steps: z
      .array(RunbookStep)
      .min(1, { error: 'a runbook needs at least one step' })
      .describe('What the run does, in order.'),
    outputs: z
      .record(Identifier, RunbookOutput)
      .default({})
      .describe('What a run yields, by name, each a template.'),
    success: z
      .array(SuccessCriterion)
      .default([])
      .describe('Conditions that must hold at the end for the run to count as a success.'),
    escalation: Escalation.prefault({}).describe('What happens when the run cannot succeed on its own.'),
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

/** What a test case expects of a value: text it contains (in its JSON when not a string), or an exact value. */
const ValueCheck = z.strictObject({ contains: z.string().optional(), equals: z.unknown().optional() });

/** A runbook test file, `runbooks/tests/<name>.test.yaml`: cases run offline from cassettes. */
export const RunbookTestFile = z
  .strictObject({
    runbook: Identifier.describe('The `name` of the runbook under test.'),
    cases: z
      .array(
        z.strictObject({
          name: z.string().min(1).describe('Names the case in test reports.'),
          inputs: z
            .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
            .default({})
            .describe("The run's inputs, by name."),
          cassette: z.string().min(1).describe('Recorded model responses, relative to the test file.'),
          expect: z
            .strictObject({
              outcome: z
                .enum(['succeeded', 'failed', 'budget_exceeded', 'escalated'])
                .default('succeeded')
                .describe('How the run must end.'),
              outputs: z
                .record(z.string(), ValueCheck)
                .default({})
                .describe('Per output: the text it must contain, or `equals` for an exact value.'),
              outbox: z.array(z.string()).default([]).describe('Files under outbox/ the run must write.'),
              actions: z
                .array(
                  z.strictObject({
                    action: z
                      .string()
                      .min(1)
                      .describe('The connector action as `<connector>.<action>`: `mail.send`.'),
                    with: z
                      .record(z.string(), ValueCheck)
                      .default({})
                      .describe('Per argument: the text it must contain, or `equals` for an exact value.'),
                  }),
                )
                .optional()
                .describe(
                  'The connector actions the run must call (captured, never performed), in order and no others (`[]`: none), each with the arguments it must have; not checked when absent.',
                ),
            })
            .prefault({})
            .describe('What the run must do.'),
        }),
      )
      .default([])
      .describe('Each case is one run from a cassette.'),
    evals: EvalSection.optional().describe(
      'Graded cases `keel eval` runs live against the endpoint (side effects captured), scored and kept.',
    ),
  })
  .refine((file) => file.cases.length > 0 || file.evals !== undefined, {
    error: 'a runbook test file needs `cases` (offline, from cassettes) or `evals` (live, graded)',
    path: ['cases'],
  });
export type RunbookTestFile = z.infer<typeof RunbookTestFile>;

/**
 * What a model call was sent with besides its messages: what changes its answer as much as the
 * prompt does. A cassette keeps them per call, so a test or a replay names the setting that changed
 * ("temperature changed from 0.2 to 0.9") instead of passing on an answer another request got. A
 * new sampling setting Keel sends belongs here too.
 */
export const ModelCallSettings = z.object({
  tier: z.string().describe('The model tier the step asked for (`fast`, `strong`).'),
  model: z
    .string()
    .optional()
    .describe(
      "The model id sent to the endpoint: the tier's model in keel.yaml. Absent when keel.yaml did not name the tier (a test workspace without tiers).",
    ),
  maxOutputTokens: z.number().int().describe('The largest answer asked for (max_tokens).'),
  temperature: z
    .number()
    .nullable()
    .describe("The sampling temperature; null when none was sent (the endpoint's default)."),
  responseFormat: z
    .enum(['text', 'json_schema'])
    .describe('`json_schema` when the step asked for JSON matching its schema.'),
  schemaHash: z.string().nullable().describe("sha256 of the answer's JSON schema, null without one."),
  tools: z.array(z.string()).describe('The names of the tools the request offered, in order.'),
  toolsHash: z.string().nullable().describe("sha256 of the tools' definitions, null without tools."),
});
export type ModelCallSettings = z.infer<typeof ModelCallSettings>;

/** One recorded model exchange; a cassette is a list of them in call order. */
export const CassetteEntry = z.object({
  /**
   * Which run of a parent and its children made the call: absent for the run itself, the parent's
   * step (`sales`, or `plan:0:1` for an agent's hand-off) for a child, `a/b` for a grandchild.
   */
  scope: z.string().optional(),
  stepId: z.string(),
  call: z
    .number()
    .int()
    .min(0)
    .describe('0-based index of the call within its step (agent steps make several).'),
  requestHash: z
    .string()
    .describe("sha256 of the request's messages, tools and answer schema, to notice a request that changed."),
  promptHash: z
    .string()
    .optional()
    .describe("sha256 of the request's messages alone; absent in cassettes recorded before Keel kept it."),
  settings: ModelCallSettings.optional().describe(
    'What the call was sent with besides its messages; absent in cassettes recorded before Keel kept them (then not checked).',
  ),
  /**
   * The connector tools an agent step's request offered (OpenAI function tools), kept so a test
   * offers the same tools without starting the connectors (an MCP server) only to list them.
   */
  tools: z
    .array(
      z.object({
        type: z.literal('function'),
        function: z
          .object({
            name: z.string(),
            description: z.string().optional(),
            parameters: z.unknown().optional(),
          })
          .passthrough(),
      }),
    )
    .optional(),
  response: z.object({
    content: z.string().nullable(),
    toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.string() })).default([]),
    finishReason: z.string().nullable(),
    usage: z.object({ inputTokens: z.number().int(), outputTokens: z.number().int() }),
    model: z.string(),
  }),
});
export type CassetteEntry = z.infer<typeof CassetteEntry>;

/** What a `retrieve` step found when the cassette was recorded: tests replay it, offline. */
export const CassetteRetrieval = z.object({
  /** As in `CassetteEntry`: which run of a parent and its children retrieved. */
  scope: z.string().optional(),
  stepId: z.string(),
  query: z.string(),
  results: z.array(SearchResult.unwrap()),
});
export type CassetteRetrieval = z.infer<typeof CassetteRetrieval>;

export const Cassette = z.object({
  version: z.literal(1),
  runbook: z.string(),
  recordedAt: z.string(),
  source: z
    .enum(['live', 'scripted'])
    .optional()
    .describe(
      '`live`: recorded from a model endpoint (`keel run --record`); `scripted`: answers written by hand or by a script, not by a real model. Absent in cassettes written before Keel labelled them.',
    ),
  reportedModels: z
    .array(z.string())
    .optional()
    .describe('A live cassette: the model ids the endpoint reported in its answers.'),
  entries: z.array(CassetteEntry),
  retrievals: z.array(CassetteRetrieval).default([]),
});
export type Cassette = z.infer<typeof Cassette>;
