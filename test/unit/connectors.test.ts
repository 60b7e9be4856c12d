/** The connector registry, the action policy and the runbook editor's connector knowledge. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Runbook, toInputJsonSchema, WorkspaceConfig } from '@keel/schemas';
import { decideAction } from '../../daemon/src/connectors/actionPolicy';
import { actionOf } from '../../daemon/src/connectors/sdk';
import { ConnectorSecrets, credentialResolver } from '../../daemon/src/connectors/credentials';
import {
  BUILT_IN_CONNECTORS,
  ConnectorRegistry,
  findInstance,
  inputJsonSchema,
} from '../../daemon/src/connectors/registry';
import { connectorProblems, runbookSchemaWithConnectors } from '../../daemon/src/editor/connectorSchemas';
import { SchemaAssist } from '../../daemon/src/editor/schemaAssist';
import { loadConfig } from '../../daemon/src/workspace/config';
import { notifyConnector } from '../helpers/notifyConnector';
import { REPO_ROOT } from '../helpers/processes';

const registry = new ConnectorRegistry([...BUILT_IN_CONNECTORS, notifyConnector]);

function config(extra: Record<string, unknown>): WorkspaceConfig {
  return WorkspaceConfig.parse({ version: 1, ...extra });
}

const NOTIFY = { use: 'notify@1', dir: '/tmp/x', credentials: { token: { env: 'TOKEN' } } };

describe('registry', () => {
  it('knows each built-in before loading it as its code says: id, entry needed, events', () => {
    // Loaded the way the bundles load them (`require`), which vitest's ES modules cannot do: in a
    // Node of its own, with tsx's CommonJS hook.
    const registryFile = join(REPO_ROOT, 'daemon', 'src', 'connectors', 'registry.ts');
    const script = `
      const { BUILT_IN_CONNECTORS, needsEntry } = require(${JSON.stringify(registryFile)});
      process.stdout.write(JSON.stringify(BUILT_IN_CONNECTORS.map((builtIn) => {
        const loaded = builtIn.load();
        return {
          declared: [builtIn.id, builtIn.needsEntry, builtIn.events],
          loaded: [loaded.id, needsEntry(loaded), Object.keys(loaded.events)],
        };
      })));`;
    const out = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    const builtIns = JSON.parse(out) as { declared: unknown[]; loaded: unknown[] }[];
    expect(builtIns.map((b) => b.loaded[0])).toEqual([
      'fs.outbox@1',
      'email@1',
      'calendar@1',
      'http@1',
      'billing@1',
    ]);
    for (const { declared, loaded } of builtIns) expect(loaded).toEqual(declared);
  });

  it('declares keel.yaml connectors and offers built-ins without settings by name and id', () => {
    const { instances, issues } = registry.instances(config({ connectors: { notify: NOTIFY } }));
    expect(issues).toEqual([]);
    expect(instances.map((i) => [i.name, i.use])).toEqual([
      ['notify', 'notify'],
      ['fs.outbox', 'fs.outbox@1'],
    ]);
    expect(findInstance(instances, 'notify@1')?.name).toBe('notify');
    expect(findInstance(instances, 'fs.outbox@1')?.connector.id).toBe('fs.outbox@1');
    expect(findInstance(instances, 'nothing')).toBeNull();
    // The bare name of a built-in, as `tools: [fs.outbox.write]` and rules write it.
    expect(findInstance(instances, 'fs.outbox')?.connector.id).toBe('fs.outbox@1');
    // Extra `with:` keys of older runbooks are dropped, not refused.
    const write = findInstance(instances, 'fs.outbox')!.connector.actions.write!;
    expect(write.input.parse({ path: 'a.md', content: 'x', note: 'old key' })).toEqual({
      path: 'a.md',
      content: 'x',
    });
  });

  it('names each broken entry at its path: unknown connector, bad settings, missing credential', () => {
    const { instances, issues } = registry.instances(
      config({
        connectors: {
          a: { use: 'email@9' },
          b: { use: 'notify@1', dir: 3, credentials: { token: { env: 'T' } } },
          c: { use: 'notify@1', dir: '/x' },
        },
      }),
    );
    expect(instances.map((i) => i.name)).toEqual(['fs.outbox']);
    expect(issues).toEqual([
      {
        path: ['connectors', 'a', 'use'],
        message: expect.stringMatching(
          /no connector "email@9"; Keel has: fs.outbox@1, email@1, calendar@1, http@1, billing@1, notify@1/,
        ),
      },
      { path: ['connectors', 'b', 'dir'], message: expect.stringMatching(/^notify@1: /) },
      {
        path: ['connectors', 'c', 'credentials'],
        message: expect.stringMatching(/needs the credential "token"/),
      },
    ]);
  });

  it('refuses a secret value in keel.yaml and a credential given as a value', () => {
    expect(
      WorkspaceConfig.safeParse({ version: 1, connectors: { n: { ...NOTIFY, apiKey: 'abc' } } }).success,
    ).toBe(false);
    expect(
      WorkspaceConfig.safeParse({
        version: 1,
        connectors: { n: { ...NOTIFY, credentials: { token: 'abc' } } },
      }).success,
    ).toBe(false);
  });

  it('a missing credential names keel.yaml, the variable, and the fix', () => {
    const [instance] = registry.instances(config({ connectors: { notify: NOTIFY } })).instances;
    const redacted: string[] = [];
    const resolve = credentialResolver(instance!, new ConnectorSecrets(), {}, (v) => redacted.push(v));
    expect(() => resolve('token')).toThrow(/keel\.yaml \(connectors\.notify\.credentials\.token\).*TOKEN/);
    expect(() => resolve('other')).toThrow(/does not name/);
    const found = credentialResolver(instance!, new ConnectorSecrets(), { TOKEN: 'sekrit-1' }, (v) =>
      redacted.push(v),
    );
    expect(found('token')).toBe('sekrit-1');
    expect(redacted).toEqual(['sekrit-1']);
  });
});

describe('action policy', () => {
  const approvals = config({
    approvals: {
      lists: { trustedDomains: ['acme.com'] },
      actions: [
        { action: 'email.send', when: { to: { notIn: 'trustedDomains' } }, decide: 'ask' },
        { action: 'email.send', decide: 'allow' },
        { action: 'billing.refund', when: { amount: { gt: 100 } }, decide: 'ask' },
        { action: 'billing.*', decide: 'allow' },
        { action: '*.delete', decide: 'deny' },
      ],
    },
  }).approvals;

  it('asks for any recipient outside the trusted domains, allows the rest', () => {
    expect(
      decideAction('email', 'send', 'external', { to: ['dana@acme.com', 'x@evil.example'] }, approvals),
    ).toEqual({
      decide: 'ask',
      rule: 'email.send ask when to notIn trustedDomains',
    });
    expect(
      decideAction('email', 'send', 'external', { to: ['Dana <dana@mail.acme.com>'] }, approvals).decide,
    ).toBe('allow');
  });

  it('asks for a refund over the amount; a wildcard never allows what cannot be undone; denies by wildcard', () => {
    expect(decideAction('billing', 'refund', 'irreversible', { amount: 250 }, approvals).decide).toBe('ask');
    expect(decideAction('billing', 'refund', 'irreversible', { amount: 20 }, approvals)).toEqual({
      decide: 'ask',
      rule:
        'billing.* allow, but billing.refund cannot be undone: only a rule naming it ("action: billing.refund") ' +
        'allows it without asking',
    });
    expect(decideAction('billing', 'invoice', 'external', { amount: 20 }, approvals).decide).toBe('allow');
    const byName = config({
      approvals: { actions: [{ action: 'billing.refund', when: { amount: { lt: 50 } }, decide: 'allow' }] },
    }).approvals;
    expect(decideAction('billing', 'refund', 'irreversible', { amount: 20 }, byName).decide).toBe('allow');
    expect(decideAction('crm', 'delete', 'irreversible', {}, approvals).decide).toBe('deny');
  });

  it('without a rule, the risk decides', () => {
    const none = config({}).approvals;
    expect(decideAction('x', 'a', 'read', {}, none).decide).toBe('allow');
    // Internal: the file rules decide only fs.outbox's writes; any other connector's asks.
    expect(decideAction('fs.outbox', 'write', 'internal', {}, none, true).decide).toBe('files');
    expect(decideAction('email', 'move', 'internal', {}, none)).toEqual({
      decide: 'ask',
      rule: 'risk internal: asks unless an approvals.actions rule allows it',
    });
    const allowMoves = config({
      approvals: { actions: [{ action: 'email.move', decide: 'allow' }] },
    }).approvals;
    expect(decideAction('email', 'move', 'internal', {}, allowMoves).decide).toBe('allow');
    expect(decideAction('x', 'a', 'external', {}, none).decide).toBe('ask');
    expect(decideAction('x', 'a', 'irreversible', {}, none).decide).toBe('ask');
  });
});

describe('runbook editor', () => {
  const { instances } = registry.instances(config({ connectors: { notify: NOTIFY } }));
  const assist = new SchemaAssist(runbookSchemaWithConnectors(toInputJsonSchema(Runbook), instances));
  const head =
    'apiVersion: keel/v1\nname: t\nrole: R\ndescription: D\nsteps:\n  - id: s\n    type: connector\n';
  const at = (text: string) => (offset: number) => {
    const before = text.slice(0, offset).split('\n');
    return { line: before.length - 1, character: before.at(-1)!.length };
  };

  it('completes use: with the workspace connectors and with: with the action input', () => {
    const use = `${head}    use: `;
    expect(assist.complete(use, use.length, at(use)).map((i) => i.label)).toEqual(['notify', 'fs.outbox@1']);
    const withText = `${head}    use: notify\n    action: send\n    with:\n      `;
    expect(
      assist
        .complete(withText, withText.length, at(withText))
        .map((i) => i.label)
        .sort(),
    ).toEqual(['text', 'to']);
  });

  it('reports an unknown connector, action, and missing or unknown arguments', () => {
    const check = (steps: string) => {
      const text = `apiVersion: keel/v1\nname: t\nrole: R\ndescription: D\nsteps:\n${steps}`;
      const runbook = Runbook.parse(parseYaml(text));
      return connectorProblems(text, 'runbooks/t.yaml', runbook, instances, (u) =>
        findInstance(instances, u),
      ).map((p) => `${p.line}: ${p.message}`);
    };
    expect(check('  - { id: a, type: connector, use: mail, action: send }\n')).toEqual([
      expect.stringMatching(/^6: .*no connector "mail" \(available: notify, fs.outbox@1\)/),
    ]);
    expect(
      check(
        '  - id: a\n    type: connector\n    use: notify\n    action: send\n    with: { to: x, cc: y }\n',
      ),
    ).toEqual([expect.stringMatching(/takes no "cc"/), expect.stringMatching(/needs "text"/)]);
    expect(check('  - { id: a, type: agent, goal: g, tools: [notify.post] }\n')).toEqual([
      expect.stringMatching(/notify has no action "post"/),
    ]);
  });
});

describe('MCP servers in keel.yaml', () => {
  const FILES = {
    use: 'mcp',
    command: ['node', 'server.js', '.'],
    cwd: 'data',
    tools: { read_file: 'read' },
  };

  it('are instances under their keel.yaml name, one connector per entry, kept until the entry changes', () => {
    const mcp = new ConnectorRegistry();
    const first = mcp.instances(config({ connectors: { files: FILES } }));
    expect(first.issues).toEqual([]);
    const files = findInstance(first.instances, 'files');
    expect(files?.connector.id).toBe('mcp.files@1');
    expect(files?.connector.actionsKnown).toBe(false);
    // The same settings, read again (in another key order): the same connector, so the same process.
    const again = mcp.instances(
      config({ connectors: { files: Object.fromEntries(Object.entries(FILES).reverse()) } }),
    );
    expect(findInstance(again.instances, 'files')?.connector).toBe(files?.connector);
    const edited = mcp.instances(config({ connectors: { files: { ...FILES, cwd: 'other' } } }));
    expect(findInstance(edited.instances, 'files')?.connector).not.toBe(files?.connector);
    expect(mcp.trustEndpoints(config({ connectors: { files: FILES } }))).toEqual([
      { purpose: 'mcp', origin: '"files": node server.js . (in data)', apiKeyEnv: null },
    ]);
  });

  it('name each broken setting at its path, and the credentials an entry refers to', () => {
    const { instances, issues } = new ConnectorRegistry().instances(
      config({
        connectors: {
          a: { use: 'mcp', command: [], tools: { x: 'dangerous' } },
          b: { use: 'mcp@1', url: 'ftp://example.com' },
          c: { use: 'mcp', command: ['srv'], shell: true },
          d: { use: 'mcp', command: ['srv'], env: { TOKEN_FILE: { credential: 'token' } } },
        },
      }),
    );
    expect(instances.map((i) => i.name)).toEqual(['fs.outbox']);
    expect(issues.map((i) => i.path.join('.'))).toEqual([
      'connectors.a.tools.x',
      'connectors.a.command',
      'connectors.b.url',
      'connectors.c',
      'connectors.d.credentials',
    ]);
    expect(issues[3]?.message).toMatch(/shell.*an MCP server takes/);
    expect(issues[4]?.message).toMatch(/mcp\.d@1 needs the credential "token"/);
  });

  it('refuse a secret value in env or headers, not a variable that only looks like one', () => {
    const parse = (env: Record<string, unknown>) =>
      WorkspaceConfig.safeParse({ version: 1, connectors: { s: { use: 'mcp', command: ['x'], env } } });
    expect(parse({ GITHUB_TOKEN: 'ghp_x' }).success).toBe(false);
    expect(parse({ OPENAI_API_KEY: 'sk-x' }).success).toBe(false);
    expect(parse({ GITHUB_TOKEN: { credential: 'gh' } }).success).toBe(true);
    expect(parse({ TOKENIZERS_PARALLELISM: 'false' }).success).toBe(true);
    const headers = WorkspaceConfig.safeParse({
      version: 1,
      connectors: { s: { use: 'mcp', url: 'https://x.example', headers: { Authorization: 'Bearer x' } } },
    });
    expect(headers.error?.issues[0]?.path).toEqual(['connectors', 's', 'headers', 'Authorization']);
  });

  it('an MCP server whose tools are not listed yet has no action names checked in the editor', () => {
    const { instances } = new ConnectorRegistry().instances(config({ connectors: { files: FILES } }));
    const text =
      'apiVersion: keel/v1\nname: t\nrole: R\ndescription: D\nsteps:\n' +
      '  - { id: a, type: connector, use: files, action: read_file }\n' +
      '  - { id: b, type: agent, goal: g, tools: [files.write_file] }\n';
    const problems = connectorProblems(
      text,
      'runbooks/t.yaml',
      Runbook.parse(parseYaml(text)),
      instances,
      (u) => findInstance(instances, u),
    );
    expect(problems).toEqual([]);
  });
});

describe('email accounts in keel.yaml', () => {
  const MAIL = {
    use: 'email@1',
    imap: { host: 'Mail.Example.com', port: 993 },
    smtp: { host: 'mail.example.com', port: 587, secure: false },
    user: 'alice@example.com',
    from: 'Alice <alice@example.com>',
    credentials: { password: { env: 'KEEL_MAIL_PASSWORD' } },
  };

  it('are email@1 instances, and their two servers are what the operator trusts', () => {
    const mail = new ConnectorRegistry();
    const { instances, issues } = mail.instances(config({ connectors: { mail: MAIL } }));
    expect(issues).toEqual([]);
    const instance = findInstance(instances, 'mail');
    expect(instance?.connector.id).toBe('email@1');
    expect(instance?.config).toMatchObject({ sentFolder: 'Sent', inbox: 'INBOX', sentCopy: 'append' });
    const endpoints = [
      { purpose: 'email', origin: 'imaps://mail.example.com:993', apiKeyEnv: 'KEEL_MAIL_PASSWORD' },
      { purpose: 'email', origin: 'smtp://mail.example.com:587', apiKeyEnv: 'KEEL_MAIL_PASSWORD' },
    ];
    expect(instance?.endpoints).toEqual(endpoints);
    expect(mail.trustEndpoints(config({ connectors: { mail: MAIL } }))).toEqual(endpoints);
    // Kept in the editor's secret storage: the same servers, no variable named.
    const secret = { ...MAIL, credentials: { password: { secret: true } } };
    expect(mail.trustEndpoints(config({ connectors: { mail: secret } })).map((e) => e.apiKeyEnv)).toEqual([
      null,
      null,
    ]);
    // Without an entry, email@1 is not offered under its bare name (it needs its settings).
    expect(findInstance(mail.instances(config({})).instances, 'email@1')).toBeNull();
    // Its actions' inputs as JSON Schema, for the runbook editor and for agents' tools.
    const send = inputJsonSchema(instance!.connector.actions.send!);
    expect(Object.keys(send.properties as object)).toEqual(
      expect.arrayContaining(['to', 'cc', 'subject', 'text', 'inReplyTo', 'attachments']),
    );
    expect(send.required).toEqual(expect.arrayContaining(['to', 'subject', 'text']));
    expect(Object.keys(inputJsonSchema(instance!.connector.actions.read!).properties as object)).toEqual([
      'folder',
      'uid',
    ]);
  });

  it('names each broken setting at its line in keel.yaml', async () => {
    const workspace = await mkdtemp(join(tmpdir(), 'keel-email-config-'));
    try {
      await writeFile(
        join(workspace, 'keel.yaml'),
        [
          'version: 1',
          'connectors:',
          '  mail:',
          '    use: email@1',
          '    imap: { host: mail.example.com, port: 99999 }',
          '    smtp: { host: mail.example.com }',
          '    user: alice@example.com',
          '    sentfolder: Sent',
          '',
        ].join('\n'),
      );
      const loaded = await loadConfig(workspace);
      expect(loaded.state).toBe('valid');
      expect(loaded.problems.map((p) => [p.line, p.message])).toEqual([
        [5, expect.stringMatching(/^connectors\.mail\.imap\.port: email@1: .*65535/)],
        [4, expect.stringMatching(/^connectors\.mail\.from: email@1: /)],
        [4, expect.stringMatching(/^connectors\.mail: email@1: .*sentfolder/)],
        [
          4,
          expect.stringMatching(
            /^connectors\.mail\.credentials: .*needs the credential "password".*\{ password: \{ env: VARIABLE \} \}/,
          ),
        ],
      ]);
      // A broken entry names no server to trust, and is no instance: nothing connects.
      expect(new ConnectorRegistry().trustEndpoints(loaded.config!)).toEqual([]);
    } finally {
      await rm(workspace, { recursive: true, force: true });
    }
  });
});

describe('action lookup', () => {
  it('finds only declared actions: constructor or __proto__ is no action, not an Object method', () => {
    const send = notifyConnector.actions.send!;
    const connector = { actions: { send } };
    expect(actionOf(connector, 'send')).toBe(send);
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(actionOf(connector, name)).toBeNull();
    }
  });
});
