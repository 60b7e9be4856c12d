/**
 * The frontmatter Keel stamps on the notes its runs write into working memory: `created`,
 * `expires` (the retention rule's `after` from now, unless the writer said) and
 * `source: { run, event? }`, so the expiry job can tell what Keel wrote from what the operator
 * wrote. Whatever the file already says is kept: a key the writer set is never overridden.
 */
import picomatch from 'picomatch';
import { parse } from 'yaml';
import { durationMs, type RetentionRule } from '@keel/schemas';
import { splitFrontmatter } from '../parse/frontmatter';

/** Where a note came from: the run that wrote it and, for a run an event started, that event. */
export interface NoteSource {
  run: string;
  /** `email.received:<connector>:<event id>`. */
  event?: string;
}

/** The first retention rule whose glob matches `path` (workspace-relative), or null. */
export function retentionRuleFor(path: string, rules: readonly RetentionRule[]): RetentionRule | null {
  return rules.find((rule) => picomatch.isMatch(path, rule.path, { dot: false })) ?? null;
}

/**
 * `content` with the retention fields it lacks added to its frontmatter (a frontmatter block is
 * created when it has none). Only Markdown under a retention path is stamped; a note whose
 * frontmatter is no YAML mapping is left as it is (the index reports it).
 */
export function stampWorkingNote(
  path: string,
  content: string,
  options: { rules: readonly RetentionRule[]; now: Date; source: NoteSource },
): string {
  const rule = retentionRuleFor(path, options.rules);
  if (!rule || !/\.(md|markdown)$/i.test(path)) return content;
  const split = splitFrontmatter(content);
  let existing: Record<string, unknown> = {};
  if (split.yaml !== null) {
    let value: unknown;
    try {
      value = parse(split.yaml) ?? {};
    } catch {
      return content;
    }
    if (typeof value !== 'object' || Array.isArray(value)) return content;
    existing = value as Record<string, unknown>;
  }
  const created = new Date(options.now);
  const lines: string[] = [];
  if (!('created' in existing)) lines.push(`created: ${created.toISOString()}`);
  if (!('expires' in existing)) {
    const base = typeof existing.created === 'string' ? Date.parse(existing.created) : NaN;
    const from = Number.isNaN(base) ? created.getTime() : base;
    lines.push(`expires: ${new Date(from + durationMs(rule.after)).toISOString()}`);
  }
  if (!('source' in existing)) {
    // JSON is YAML: ids are quoted whatever characters they hold.
    const source = {
      run: options.source.run,
      ...(options.source.event ? { event: options.source.event } : {}),
    };
    lines.push(`source: ${JSON.stringify(source)}`);
  }
  if (lines.length === 0) return content;
  if (split.yaml === null) return `---\n${lines.join('\n')}\n---\n${content}`;
  const yaml = split.yaml.replace(/\s*$/, '');
  return `---\n${yaml === '' ? '' : `${yaml}\n`}${lines.join('\n')}\n---\n${split.body}`;
}
