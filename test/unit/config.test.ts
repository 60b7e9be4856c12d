/** keel.yaml: the default file is valid, and every mistake is reported at its exact place. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_YAML, WorkspaceConfig } from '@keel/schemas';
import { parseYamlWithSchema } from '../../daemon/src/files/yamlProblems';

const parse = (text: string) => parseYamlWithSchema(text, WorkspaceConfig, 'keel.yaml');

/** `memory:` as both the file keel init writes and a file without the section come out. */
const MEMORY_DEFAULTS = {
  dir: 'memory',
  maxAgeDays: 365,
  embeddings: { provider: 'local' },
  rescanMinutes: 10,
  search: {
    vectorWeight: 0.3,
    depth: 25,
    folderWeight: 0.2,
    mentionBoost: 0.2,
    followingWeight: 0.7,
    precedingWeight: 0.1,
    neighbourReach: 2,
    neighbourDecay: 0.5,
    sequenceFirst: true,
    coverageWeight: 0.3,
  },
  retention: [{ path: 'memory/working/**', after: '30d', then: 'archive' }],
};

describe('keel.yaml', () => {
  it('accepts the file keel init writes, with its tiers and defaults', () => {
    const result = parse(DEFAULT_CONFIG_YAML);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.memory).toEqual(MEMORY_DEFAULTS);
    expect(result.value.models.tiers.fast?.model).toBe('gpt-4o-mini');
    expect(result.value.models.endpoint?.apiKeyEnv).toBe('OPENAI_API_KEY');
  });

  it('accepts a minimal file and fills in the defaults', () => {
    const result = parse('version: 1\n');
    expect(result.ok && result.value).toEqual({
      version: 1,
      memory: MEMORY_DEFAULTS,
      retention: { keel: { runs: '90d', proposals: '90d' } },
      runbooks: { dir: 'runbooks', concurrency: 2, parallelSteps: 4 },
      approvals: {
        rules: [
          { path: 'memory/working/**', allow: ['create'] },
          { path: 'outbox/**', allow: ['create'] },
        ],
        actions: [],
        lists: {},
      },
      connectors: {},
      quotas: [],
      breakers: { modelFailures: 5, runFailures: 3, coolDownSeconds: 60 },
      models: {
        tiers: {},
        timeoutSeconds: 60,
        retry: { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 8000 },
      },
    });
  });

  it('points at a misspelt key', () => {
    const result = parse('version: 1\nmemory:\n  dir: memory\n  maxAgeDay: 30\n');
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      expect.objectContaining({
        path: 'keel.yaml',
        line: 4,
        column: 3,
        message: expect.stringContaining('maxAgeDay'),
      }),
    ]);
  });

  it('points at a wrongly typed value', () => {
    const result = parse('version: 1\nmemory:\n  maxAgeDays: soon\n');
    expect(result.problems).toEqual([
      expect.objectContaining({
        line: 3,
        column: 15,
        message: expect.stringMatching(/memory\.maxAgeDays.*number/),
      }),
    ]);
  });

  it('refuses an API key written into the file, and says where keys go', () => {
    const result = parse(
      'version: 1\nmodels:\n  endpoint:\n    baseUrl: http://localhost:11434/v1\n    apiKey: sk-live-123\n',
    );
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatchObject({ line: 5 });
    expect(result.problems[0]!.message).toMatch(/environment variable/);
  });

  it('refuses folders outside the workspace', () => {
    const result = parse('version: 1\nmemory:\n  dir: ../elsewhere\n');
    expect(result.problems[0]!.message).toMatch(/inside the workspace/);
  });

  it('reports YAML syntax errors with their line', () => {
    const result = parse('version: 1\nmemory: [unclosed\nrunbooks: {}\n');
    expect(result.ok).toBe(false);
    expect(result.problems[0]!.message).toMatch(/^YAML syntax/);
    expect(result.problems[0]!.line).toBeGreaterThanOrEqual(2);
  });

  it('requires the version line', () => {
    const result = parse('company: Acme\n');
    expect(result.problems[0]!.message).toMatch(/version: 1/);
  });

  it('checks memory.retention and retention.keel, naming the line', () => {
    const result = parse(
      'version: 1\nmemory:\n  retention:\n    - { path: "memory/working/**", after: soon, then: shred }\n' +
        'retention:\n  keel: { runs: 0d }\n',
    );
    expect(result.ok).toBe(false);
    const messages = result.problems.map((p) => `${p.line}: ${p.message}`).join('\n');
    expect(messages).toMatch(/4: .*30d, 12h or 2w/);
    expect(messages).toMatch(/4: .*archive.*summarise.*delete/);
    expect(messages).toMatch(/6: .*30d, 12h or 2w/);
  });
});
