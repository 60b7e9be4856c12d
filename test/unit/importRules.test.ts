/**
 * The import rules of eslint.config.mjs still fire: a config edit that drops one fails here, not
 * silently. Each snippet is linted in memory, as if it were the file at `filePath`.
 */
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const RULES = new Set(['import-x/no-cycle', 'no-restricted-imports']);
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({
    cwd: join(__dirname, '..', '..'),
    // Only the import rules, and no type information: they need none, and a program takes seconds.
    ruleFilter: ({ ruleId }) => RULES.has(ruleId),
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  });
});

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('import rules', { timeout: 60_000 }, () => {
  it('keeps approvals from importing the conductor', async () => {
    const found = await problems(
      'daemon/src/approvals/policy.ts',
      "import { Conductor } from '../conductor/conductor';\nexport const c = Conductor;\n",
    );
    expect(found).toContainEqual(
      expect.stringMatching(/^no-restricted-imports: .*approvals serves the conductor/),
    );
  });

  it('refuses an import cycle in the daemon', async () => {
    // approvalService imports files/workspacePaths, so this import would close a loop.
    const found = await problems(
      'daemon/src/files/workspacePaths.ts',
      "import { ApprovalService } from '../approvals/approvalService';\nexport const c = ApprovalService;\n",
    );
    expect(found).toContainEqual(expect.stringMatching(/^import-x\/no-cycle: /));
  });

  it('keeps domain modules away from the RPC layer and its error types', async () => {
    const found = await problems(
      'daemon/src/memory/store/probe.ts',
      "import { Router } from '../../rpc/router';\nimport { KeelRpcError } from '@keel/schemas';\n" +
        'export const c = [Router, KeelRpcError];\n',
    );
    expect(found).toEqual([
      expect.stringMatching(/^no-restricted-imports: '..\/..\/rpc\/router' .*RPC layer/),
      expect.stringMatching(/^no-restricted-imports: 'KeelRpcError' .*domain error/),
    ]);
  });

  it('keeps the extension out of daemon/src', async () => {
    const found = await problems(
      'extension/src/probe.ts',
      "import { Daemon } from '../../daemon/src/daemon';\nexport const c = Daemon;\n",
    );
    expect(found).toEqual([expect.stringMatching(/^no-restricted-imports: .*@keel\/schemas and RPC/)]);
  });

  it('keeps webview scripts off the vscode API and Node', async () => {
    const found = await problems(
      'extension/src/runs/webview/probe.ts',
      "import * as vscode from 'vscode';\nimport { join } from 'node:path';\nexport const c = [vscode, join];\n",
    );
    expect(found).toEqual([
      expect.stringMatching(/^no-restricted-imports: 'vscode' .*runs in the browser/),
      expect.stringMatching(/^no-restricted-imports: 'node:path' .*runs in the browser/),
    ]);
  });

  it('lets the RPC-facing handlers use the router and its errors', async () => {
    const found = await problems(
      'daemon/src/handlers/probe.ts',
      "import { Router } from '../rpc/router';\nimport { KeelRpcError } from '@keel/schemas';\n" +
        'export const c = [Router, KeelRpcError];\n',
    );
    expect(found).toEqual([]);
  });
});
