/** Where agents may write, and what templates may do: the cases a hostile runbook or model would try. */
import { describe, expect, it } from 'vitest';
import { policyFor } from '../../daemon/src/approvals/policy';
import { renderText, templateError } from '../../daemon/src/conductor/expressions';
import { isProtected, workspaceRelative } from '../../daemon/src/files/workspacePaths';

describe('agent paths', () => {
  it('refuses paths outside the workspace, into any .git folder, and git pathspec magic', () => {
    for (const path of [
      '../x.md',
      '/etc/passwd',
      'C:/x',
      '.git/config',
      '.GIT/hooks/x',
      'vendor/lib/.git/HEAD',
      ':/',
      ':!x',
      '.git./x',
    ]) {
      expect(() => workspaceRelative(path), path).toThrow();
    }
    expect(workspaceRelative('./memory\\notes/a.md')).toBe('memory/notes/a.md');
  });

  it('protects keel.yaml, .vscode/, .keel/ and the runbooks folder whatever the case, even when policy applies everything', () => {
    for (const path of [
      'keel.yaml',
      'KEEL.yaml',
      'keel.yaml.',
      '.vscode/settings.json',
      '.Keel/x',
      'Runbooks/new.yaml',
    ]) {
      expect(isProtected(workspaceRelative(path)), path).toBe(true);
      expect(policyFor(path, ['**']), path).toBe('approval');
    }
    expect(policyFor('playbooks/a.yaml', ['**'], 'playbooks')).toBe('approval');
    expect(policyFor('memory/working/a.md', ['memory/working/**'])).toBe('auto');
    expect(policyFor('memory/customers/a.md', ['memory/working/**'])).toBe('approval');
  });
});

describe('templates', () => {
  it('cannot read files or reach prototypes', () => {
    expect(templateError("{% include 'secret.txt' %}")).toMatch(/not available in runbooks/);
    expect(templateError("{% render '.env' %}")).toMatch(/not available in runbooks/);
    expect(renderText('[{{ inputs.constructor }}][{{ inputs.__proto__ }}]', { inputs: { a: 1 } })).toBe(
      '[][]',
    );
  });
});
