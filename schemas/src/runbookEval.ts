/**
 * The `evals:` section of a runbook test file: graded cases that `keel eval` runs live against
 * the configured endpoint (side effects captured, never performed), each with deterministic checks
 * and rubric checks scored by a judge tier. Scores are compared with the runbook's baseline (drift).
 */
import { z } from 'zod';

/** Which value a check reads: an output by name (the whole outputs object when absent), then a path in it. */
const Target = {
  output: z
    .string()
    .min(1)
    .optional()
    .describe('The output the check reads, by name; all outputs (as one object) when absent.'),
  path: z
    .string()
    .regex(/^\$?(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*$/, {
      error: 'a JSON path such as $.items[0].name (dots and [index] only)',
    })
    .optional()
    .describe('A JSON path into the output, such as `$.items[0].name` (dots and [index] only).'),
};

/** One check of a case. Exactly one of the kinds (equals, contains, regex, range, noOutbox, rubric) is set. */
export const EvalCheck = z
  .strictObject({
    ...Target,
    equals: z.unknown().optional().describe('The value must be exactly this.'),
    contains: z.string().optional().describe('The text (its JSON when not a string) must contain this.'),
    regex: z
      .string()
      .min(1)
      .optional()
      .describe('The text must match this RE2 pattern (linear time: no lookaround or backreferences).'),
    range: z
      .strictObject({ min: z.number().optional(), max: z.number().optional() })
      .optional()
      .describe('The value must be a number within [min, max].'),
    noOutbox: z.literal(true).optional().describe('The run must write no file under outbox/.'),
    rubric: z
      .string()
      .min(1)
      .optional()
      .describe('What a good answer does; a judge model scores the output against it from 0 to 1.'),
    judge: z
      .string()
      .min(1)
      .optional()
      .describe('With `rubric`: the keel.yaml tier that judges (default: `evals.judge`).'),
    threshold: z.number().min(0).max(1).default(0.7).describe('With `rubric`: the least score that passes.'),
  })
  .superRefine((check, context) => {
    const kinds = (['equals', 'contains', 'regex', 'range', 'noOutbox', 'rubric'] as const).filter(
      (kind) => check[kind] !== undefined,
    );
    if (kinds.length !== 1) {
      context.addIssue({
        code: 'custom',
        message: `a check has exactly one of equals, contains, regex, range, noOutbox, rubric (this one has ${kinds.join(', ') || 'none'})`,
      });
    }
    if (check.judge !== undefined && check.rubric === undefined) {
      context.addIssue({ code: 'custom', path: ['judge'], message: '`judge` goes with a `rubric` check' });
    }
  });
export type EvalCheck = z.infer<typeof EvalCheck>;

export const EvalCase = z.strictObject({
  name: z.string().min(1).describe('Names the case in eval results.'),
  inputs: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .default({})
    .describe("The run's inputs, by name."),
  checks: z.array(EvalCheck).min(1).describe('What the run must do; its score is their mean.'),
});
export type EvalCase = z.infer<typeof EvalCase>;

export const EvalSection = z.strictObject({
  judge: z
    .string()
    .min(1)
    .default('judge')
    .describe('The keel.yaml tier that scores rubric checks (a check may name its own).'),
  tolerance: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe("How far a case's score may fall below its baseline before it counts as drift."),
  cases: z.array(EvalCase).min(1).describe('Each case is one live run, captured, and graded.'),
});
export type EvalSection = z.infer<typeof EvalSection>;
