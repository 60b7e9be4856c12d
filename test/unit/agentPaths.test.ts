/** Where agents may write, and what templates may do: the cases a hostile runbook or model would try. */
import { describe, expect, it } from 'vitest';
import type { ApprovalRule } from '@keel/schemas';
import { ruleFor } from '../../daemon/src/approvals/policy';
import { renderText, templateError } from '../../daemon/src/conductor/expressions';
import { isProtected, workspaceRelative } from '../../daemon/src/files/workspacePaths';

const everything: ApprovalRule = { path: '**', allow: ['create', 'modify', 'delete'] };
const working: ApprovalRule = { path: 'memory/working/**', allow: ['create'] };

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
      expect(ruleFor(path, 'modify', [everything]), path).toBeNull();
    }
    expect(ruleFor('playbooks/a.yaml', 'create', [everything], 'playbooks')).toBeNull();
    expect(ruleFor('memory/working/a.md', 'create', [working])).toBe(working);
    expect(ruleFor('memory/working/a.md', 'modify', [working])).toBeNull();
    expect(ruleFor('memory/working/a.md', 'delete', [working])).toBeNull();
    expect(ruleFor('memory/customers/a.md', 'create', [working])).toBeNull();
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
