/**
 * Memory notes: the frontmatter Keel understands. Every other key is kept and searchable, but only
 * these have meaning: `type` and `tags` for filters, `date` for date ranges, `review-by` for
 * freshness.
 */
import { z } from 'zod';

/** A calendar date written in YAML (`2026-11-30`, which YAML reads as a Date) or as text. */
const CalendarDate = z.union([z.date(), z.string()]).transform((value, context) => {
  const iso = value instanceof Date ? value.toISOString() : value.trim();
  const match = /^(\d{4}-\d{2}-\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(iso);
  if (!match || Number.isNaN(Date.parse(match[1]!))) {
    context.addIssue({ code: 'custom', message: `"${String(value)}" is not a date; write it as YYYY-MM-DD` });
    return z.NEVER;
  }
  return match[1]!;
});

export const Frontmatter = z.looseObject({
  type: z.string().min(1).optional(),
  title: z.string().optional(),
  tags: z
    .union([z.array(z.union([z.string(), z.number()])), z.string()], {
      error: 'tags must be a list ([a, b]) or comma-separated words',
    })
    .transform((tags) =>
      (Array.isArray(tags) ? tags.map(String) : tags.split(','))
        .map((tag) => tag.trim())
        .filter((tag) => tag.length > 0),
    )
    .optional(),
  date: CalendarDate.optional(),
  created: CalendarDate.optional(),
  updated: CalendarDate.optional(),
  'review-by': CalendarDate.optional(),
});
export type Frontmatter = z.infer<typeof Frontmatter>;
