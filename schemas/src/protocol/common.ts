/** Shapes shared by several protocol areas. */
import { z } from 'zod';
import { lazy } from './define';

/**
 * Something wrong with a workspace file, located precisely enough to become an editor diagnostic.
 * `path` is workspace-relative with forward slashes; `line` and `column` are 1-based.
 */
export const Problem = lazy(() =>
  z.object({
    path: z.string(),
    line: z.number().int().min(1),
    column: z.number().int().min(1),
    endLine: z.number().int().min(1).optional(),
    endColumn: z.number().int().min(1).optional(),
    severity: z.enum(['error', 'warning']),
    message: z.string(),
  }),
);
export type Problem = z.infer<typeof Problem>;

/** An empty params object: the method takes no arguments, and extra keys are a caller's mistake. */
export const NoParams = lazy(() => z.strictObject({}).optional().default({}));
