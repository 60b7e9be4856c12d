/**
 * Whether a note is small enough in the ways that make a parse slow for the daemon's own thread to
 * parse it (everything else goes to the worker thread: a note can be written to be slow to parse).
 * Each caller picks its bounds from the measured worst shapes, one parse each: 16 KB of headings
 * alone (4,000 lines) took 20-27 ms, so a few microseconds a line; each YAML key costs 60-70 us
 * (1 KB of frontmatter keys 6-10 ms, 57 KB 0.7 s), frontmatter or a whole YAML file. A bound on
 * time instead would send every note elsewhere on a busy machine.
 */
import { splitFrontmatter } from './frontmatter';
import { fileKind, lineBreaksAsParsed } from './index';

export interface QuickBounds {
  /** Characters of the whole note. */
  chars: number;
  /** Lines, as the parser counts them (a lone \r is a line break too). */
  lines: number;
  /** Characters of YAML: the frontmatter, or a whole YAML file. */
  yamlChars: number;
}

/** Whether `content` stays within `bounds` (see above for what each costs). */
export function parsesQuickly(path: string, content: string, bounds: QuickBounds): boolean {
  if (content.length > bounds.chars) return false;
  const text = lineBreaksAsParsed(content);
  let lines = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) {
    if (++lines > bounds.lines) return false;
  }
  const yaml = fileKind(path) === 'yaml' ? text : splitFrontmatter(text).yaml;
  return (yaml?.length ?? 0) <= bounds.yamlChars;
}
