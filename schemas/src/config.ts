/**
 * `keel.yaml`, the workspace configuration, version 1. Every section is optional with a sensible
 * default, so `version: 1` alone is a valid file; unknown keys are errors so a typo never goes
 * unnoticed.
 */
import { z } from 'zod';

const relativeDir = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), {
    error: 'must be a folder inside the workspace (relative, without "..")',
  });

export const ModelTier = z.strictObject({
  /** The model name the endpoint knows: `gpt-4o-mini`, `llama3.1:8b`. */
  model: z.string().min(1),
  /** Price in US dollars per million input tokens, for budgets and spend reports. */
  inputUsdPerMTok: z.number().nonnegative().default(0),
  /** Price in US dollars per million output tokens. */
  outputUsdPerMTok: z.number().nonnegative().default(0),
});
export type ModelTier = z.infer<typeof ModelTier>;

export const ModelEndpoint = z.strictObject({
  /** Any OpenAI-compatible API: OpenAI, Ollama, vLLM, LM Studio. */
  baseUrl: z.url(),
  /** Name of the environment variable holding the API key. The key itself never goes in a file. */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' })
    .optional(),
  apiKey: z
    .never({
      error:
        'API keys never go in keel.yaml; put the key in an environment variable and name it in apiKeyEnv',
    })
    .optional(),
});
export type ModelEndpoint = z.infer<typeof ModelEndpoint>;

/**
 * Retries of model calls that failed for a passing reason (429, 5xx, timeouts, dropped
 * connections): exponential backoff with jitter, and a server's Retry-After wins when it says more.
 */
export const RetryPolicy = z.strictObject({
  /** Attempts in all, the first included. */
  maxAttempts: z.number().int().min(1).max(10).default(4),
  /** Delay before the first retry; doubles with each further one. */
  baseDelayMs: z.number().int().min(0).max(60_000).default(500),
  /** No delay is longer than this (a Retry-After up to five minutes is still honoured). */
  maxDelayMs: z.number().int().min(0).max(300_000).default(8_000),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

/**
 * How memory is embedded for vector search. `local` (the default) runs inside the daemon: no
 * network, no download, deterministic. `openai` calls any OpenAI-compatible embeddings endpoint.
 * Changing this rebuilds the index.
 */
export const EmbeddingsConfig = z.discriminatedUnion('provider', [
  z.strictObject({ provider: z.literal('local') }),
  z.strictObject({
    provider: z.literal('openai'),
    /** Defaults to `models.endpoint.baseUrl`. */
    baseUrl: z.url().optional(),
    model: z.string().min(1),
    /** Ask the endpoint for vectors of this size, where the model supports it. */
    dimensions: z.number().int().positive().max(4096).optional(),
    /** Defaults to `models.endpoint.apiKeyEnv`. Local servers (Ollama) need none. */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' })
      .optional(),
    batchSize: z.number().int().min(1).max(2048).default(64),
  }),
]);
export type EmbeddingsConfig = z.infer<typeof EmbeddingsConfig>;

/** A path glob from keel.yaml: one line, relative to the workspace. */
const glob = z
  .string()
  .min(1)
  .refine((p) => ![...p].some((c) => c < ' ' || c === '\u007f'), {
    error: 'must be one line, without control characters',
  });

/** The kinds of file change a policy rule can let through without the operator. */
export const ChangeKind = z.enum(['create', 'modify', 'delete']);
export type ChangeKind = z.infer<typeof ChangeKind>;

/** `approvals.rules[]`: changes of these kinds to paths matching this glob apply without asking. */
export const ApprovalRule = z.strictObject({
  /** A glob relative to the workspace: `memory/working/**`, `outbox/*.md`. */
  path: glob,
  /** `create` (a new file), `modify` (an existing file), `delete`. */
  allow: z.array(ChangeKind).min(1),
  /**
   * Whether the rule also applies to runs started by an event (a received email): their content
   * is untrusted, so without `events: true` their changes wait for the operator.
   */
  events: z.boolean().optional(),
});
export type ApprovalRule = z.infer<typeof ApprovalRule>;

/** The default policy: agents create new files in working memory and the outbox, nothing more. */
export const DEFAULT_APPROVAL_RULES: ApprovalRule[] = [
  { path: 'memory/working/**', allow: ['create'] },
  { path: 'outbox/**', allow: ['create'] },
];

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' });

/**
 * Where a connector's credential comes from: an environment variable of the daemon, or the
 * editor's secret storage for this workspace and connector (the extension hands it over at start
 * and on change; it is kept in memory only). Never the value itself.
 */
export const CredentialSource = z.union(
  [z.strictObject({ env: envName }), z.strictObject({ secret: z.literal(true) })],
  {
    error:
      "a credential is { env: VARIABLE_NAME } or { secret: true } (the editor's secret storage), never the value",
  },
);
export type CredentialSource = z.infer<typeof CredentialSource>;

/** Setting names that hold a secret: their value belongs in `credentials`, never in keel.yaml. */
const SECRET_SETTING = /^(password|passwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key)$/i;

/**
 * An MCP server's environment variable or HTTP header that holds a secret (`GITHUB_TOKEN`,
 * `OPENAI_API_KEY`, `Authorization`), by whole words, so `TOKENIZERS_PARALLELISM` is not one.
 */
const SECRET_MCP_VALUE =
  /(^|[_-])(password|passwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|authorization)($|[_-])/i;

/**
 * `connectors.<name>`: an instance of a versioned connector. `use` names it; `credentials` says
 * where each secret comes from; every other key is a setting the connector's own schema checks
 * (the daemon does, since it knows the connector). `use: mcp` names an MCP server instead (its
 * `command`, `env`, `cwd` or `url`, `headers`, and `tools` risks: see the daemon's
 * connectors/mcp/mcpConfig.ts), whose secrets are written `{ credential: NAME }`.
 */
export const ConnectorConfig = z
  .looseObject({
    use: z.string().regex(/^(mcp|[a-z][a-z0-9.-]*@[0-9]+)$/, {
      error: 'must be a connector id with its version, like email@1, or "mcp" for an MCP server',
    }),
    credentials: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/), CredentialSource).default({}),
    /**
     * Seconds between polls of the connector's events (`email.received`), when a runbook's event
     * trigger listens to them; 30 by default. Errors back off to at most ten times this.
     */
    pollSeconds: z.number().min(0.2).max(86_400).optional(),
    /**
     * Minutes between scheduled drift probes of this connector (credentials, a sample call checked
     * against its schema, the server's version); 60 by default, 0 turns them off. A failed probe
     * opens the connector's breaker until a probe passes.
     */
    probeMinutes: z
      .number()
      .min(0)
      .max(10_080)
      .refine((m) => m === 0 || m >= 0.05, { error: 'must be 0 (off) or at least 0.05 (3 seconds)' })
      .optional(),
  })
  .superRefine((value, ctx) => {
    for (const [key, setting] of Object.entries(value)) {
      if (SECRET_SETTING.test(key) && typeof setting === 'string') {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `secrets never go in keel.yaml: remove "${key}" and write "credentials: { ${key}: { env: SOME_VARIABLE } }" (or { secret: true } to keep it in the editor's secret storage)`,
        });
      }
    }
    if (!/^mcp(@1)?$/.test(value.use)) return;
    for (const field of ['env', 'headers']) {
      const values = value[field];
      if (typeof values !== 'object' || values === null) continue;
      for (const [key, setting] of Object.entries(values)) {
        if (SECRET_MCP_VALUE.test(key) && typeof setting === 'string') {
          ctx.addIssue({
            code: 'custom',
            path: [field, key],
            message: `secrets never go in keel.yaml: write "${key}: { credential: NAME }" and "credentials: { NAME: { env: SOME_VARIABLE } }" (or { secret: true } to keep it in the editor's secret storage)`,
          });
        }
      }
    }
  });
export type ConnectorConfig = z.infer<typeof ConnectorConfig>;

/**
 * `webhooks:`: where the daemon listens for signed deliveries to connectors that receive them
 * (http@1 with `webhook:`). The listener is a trust endpoint like any other: it starts only once
 * the operator consented to exactly this host and port, so a keel.yaml that later binds
 * 0.0.0.0 (reachable from the network) asks again before anything listens there.
 */
export const WebhooksConfig = z.strictObject({
  port: z.number().int().min(1).max(65_535),
  /** Loopback by default: put a reverse proxy or tunnel in front to receive from the internet. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Larger deliveries are answered 413 without being read further. */
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(1024 * 1024),
  /** A client that has not sent its whole request by then is cut off (slow clients). */
  timeoutSeconds: z.number().min(0.5).max(120).default(10),
});
export type WebhooksConfig = z.infer<typeof WebhooksConfig>;

/** A connector's name in keel.yaml, used in runbooks (`use: email`) and rules (`email.send`). */
export const ConnectorName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, { error: 'must be lowercase letters, digits and "-" (no ".")' });

/**
 * A test on one argument of an action: all the tests given must hold. A list is named (from
 * `approvals.lists`) or written inline; an address is in a list of domains when its domain is.
 */
export const ArgumentTest = z
  .strictObject({
    equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    in: z.union([z.string(), z.array(z.string())]).optional(),
    notIn: z.union([z.string(), z.array(z.string())]).optional(),
    matches: glob.optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
  })
  .refine((test) => Object.keys(test).length > 0, {
    error: 'say what to test: equals, in, notIn, matches, gt, gte, lt or lte',
  });
export type ArgumentTest = z.infer<typeof ArgumentTest>;

/**
 * `approvals.actions[]`: who decides a connector action. The first rule whose action matches
 * (`email.send`, `email.*`, `*`) and whose `when` holds (every argument test) decides: `allow`
 * runs it at once, `ask` makes it wait for the operator as a proposal, `deny` fails the step.
 */
export const ActionRule = z.strictObject({
  action: z.string().regex(/^(\*|[a-z][a-z0-9.-]*)\.([A-Za-z][A-Za-z0-9_-]*|\*)$/, {
    error: 'must be <connector>.<action>, like email.send, email.* or fs.outbox.write',
  }),
  /** Argument (a dotted path into the action's input) to test; all must hold. */
  when: z.record(z.string().min(1), ArgumentTest).default({}),
  decide: z.enum(['allow', 'ask', 'deny']),
  /**
   * Whether an `allow` also holds for runs started by an event (a received email): their content
   * is untrusted, so without `events: true` such a run's action asks the operator instead.
   */
  events: z.boolean().optional(),
});
export type ActionRule = z.infer<typeof ActionRule>;

/** What can raise an alert outside the editor (see `alerts.on`). */
export const AlertKind = z.enum([
  'escalation',
  'breakerOpened',
  'quotaHit',
  'triggeredRunFailed',
  'approvalWaiting',
  'evalDrift',
]);
export type AlertKind = z.infer<typeof AlertKind>;

/**
 * `alerts:`: where Keel tells the operator, outside VS Code, that something needs them (an email
 * to the operator). Configuring `to` is the operator's own rule for that action: it runs without
 * a proposal, but only in a workspace the operator trusted with exactly this `alerts:` section.
 */
export const AlertsConfig = z.strictObject({
  to: z
    .strictObject({
      connector: ConnectorName.describe('The connector (a name under `connectors:`) that delivers alerts.'),
      action: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, { error: 'must be an action name, like send' })
        .describe('Its action, like `send` of email@1; it is given `subject` and `text`.'),
      with: z
        .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), z.unknown())
        .default({})
        .describe('Fixed arguments of the action, e.g. `to: [operator@example.com]`.'),
    })
    .describe('The connector action every alert goes to.'),
  on: z
    .array(AlertKind)
    .min(1)
    .default(['escalation', 'breakerOpened', 'quotaHit', 'triggeredRunFailed', 'approvalWaiting'])
    .describe(
      'What raises an alert: a run escalating, a circuit breaker opening, a spend quota used up, a ' +
        'triggered run failing, an approval waiting too long, an eval drifting from its baseline ' +
        '(`evalDrift`). Default: all of them but evalDrift, which is named to be sent.',
    ),
  approvalWaitingHours: z
    .number()
    .positive()
    .max(24 * 365)
    .default(4)
    .describe('Hours a proposal may wait for a decision before it raises one alert (fractions allowed).'),
  minIntervalMinutes: z
    .number()
    .min(0)
    .max(24 * 60)
    .default(15)
    .describe(
      'At most one alert of each kind per this many minutes; more are folded into a digest sent when ' +
        'the interval ends, never dropped silently.',
    ),
});
export type AlertsConfig = z.infer<typeof AlertsConfig>;

/** A span of time in keel.yaml: a number and `h`, `d` or `w` (`12h`, `30d`, `2w`). */
export const Duration = z.string().regex(/^[1-9][0-9]{0,4}[hdw]$/, {
  error: 'must be a span like 30d, 12h or 2w (a number and h, d or w)',
});
export type Duration = z.infer<typeof Duration>;

/** Milliseconds in a Duration (`30d`). */
export function durationMs(value: Duration): number {
  const hours: Record<string, number> = { h: 1, d: 24, w: 24 * 7 };
  return Number(value.slice(0, -1)) * hours[value.slice(-1)]! * 3_600_000;
}

/**
 * `memory.retention[]`: what happens to working memory once it expires. The first rule whose glob
 * matches a note decides: `archive` moves it to `<memory>/archive/` (same relative path, still
 * searchable with a path filter), `summarise` proposes one durable note of the expired ones and
 * their deletion, `delete` deletes it. A note's own `expires:` wins over `after`.
 */
export const RetentionRule = z.strictObject({
  /** A glob inside the memory folder: `memory/working/**`. */
  path: glob,
  /** Time after the note's `created` at which it expires, when it says no `expires`. */
  after: Duration,
  then: z.enum(['archive', 'summarise', 'delete']),
});
export type RetentionRule = z.infer<typeof RetentionRule>;

/** The default retention: working memory is archived 30 days after it was written. */
export const DEFAULT_RETENTION_RULES: RetentionRule[] = [
  { path: 'memory/working/**', after: '30d', then: 'archive' },
];

/** Why a retention glob is not inside the memory folder (nor in its archive), or null when it is. */
function retentionPathError(path: string, memoryDir: string): string | null {
  const parts = path.replace(/\\/g, '/').split('/');
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || parts.includes('..') || parts.includes('.')) {
    return `"${path}" leaves the workspace: write a relative glob inside ${memoryDir}/, like ${memoryDir}/working/**`;
  }
  if (!path.startsWith(`${memoryDir}/`) || /^[*?[{]/.test(parts[1] ?? '*')) {
    return `"${path}" is not inside ${memoryDir}/: retention only expires memory, like ${memoryDir}/working/**`;
  }
  if (parts[1] === 'archive') return `"${path}" is the archive itself: archived notes never expire again`;
  return null;
}

/**
 * How search ranks (keel.yaml `memory.search`). The defaults are the settings chosen by
 * leave-one-conversation-out cross-validation on LoCoMo (`npm run eval:crossvalidate`); an operator
 * whose notes differ can move them. Every weight adds to a fused score in 0..1.
 */
export const MemorySearchConfig = z.strictObject({
  /** Share of the vector list in the fusion (the full-text list has the rest). */
  vectorWeight: z.number().min(0).max(1).default(0.3),
  /** Hits taken from each list before fusion (at least the k asked for). */
  depth: z.number().int().min(1).max(1000).default(25),
  /** Lift for notes in the same folder as other strong matches. */
  folderWeight: z.number().min(0).max(1).default(0.2),
  /** Lift for a note whose short frontmatter value (a person, a customer, a date) the query names. */
  mentionBoost: z.number().min(0).max(1).default(0.2),
  /**
   * Lift for the chunk right after one of the best matches (the next note of its folder in name
   * order, or the note's next chunk): replies, outcomes and follow-ups.
   */
  followingWeight: z.number().min(0).max(1).default(0.7),
  /** Lift for the chunk right before one of the best matches. */
  precedingWeight: z.number().min(0).max(1).default(0.1),
  /**
   * How many chunks on either side of a best match the two weights above reach; each step further
   * multiplies them by `neighbourDecay` (an answer often comes two messages after its question).
   */
  neighbourReach: z.number().int().min(1).max(5).default(2),
  neighbourDecay: z.number().min(0).max(1).default(0.5),
  /**
   * Whether the neighbours are lifted before the structure priors (folder, mentions, term coverage)
   * re-score the candidates, so a lifted reply is scored on its own words and speaker too; when
   * false, the neighbours of the re-scored best matches are lifted last, as before.
   */
  sequenceFirst: z.boolean().default(true),
  /**
   * Lift for a note holding more of the query's distinct content words, the rarer among the
   * candidates the better (term coverage, 0..1 of this weight).
   */
  coverageWeight: z.number().min(0).max(1).default(0.3),
});
export type MemorySearchConfig = z.infer<typeof MemorySearchConfig>;

export const WorkspaceConfig = z.strictObject({
  version: z.literal(1, { error: 'keel.yaml must start with "version: 1"' }),
  /** The company this workspace runs, shown in the sidebar. */
  company: z.string().min(1).optional(),
  memory: z
    .strictObject({
      dir: relativeDir.default('memory'),
      /** Notes older than this without a `review-by` date are marked stale in search results. */
      maxAgeDays: z.number().int().positive().default(365),
      embeddings: EmbeddingsConfig.default({ provider: 'local' }),
      /** Minutes between full rescans that catch changes the file watcher missed. */
      rescanMinutes: z.number().positive().default(10),
      /** How search ranks; the defaults suit most workspaces. */
      search: MemorySearchConfig.prefault({}),
      /** What happens to working memory at expiry, per path (default: archive after 30 days). */
      retention: z.array(RetentionRule).default(() => DEFAULT_RETENTION_RULES.map((rule) => ({ ...rule }))),
    })
    .superRefine((memory, ctx) => {
      memory.retention.forEach((rule, i) => {
        const problem = retentionPathError(rule.path, memory.dir);
        if (problem) ctx.addIssue({ code: 'custom', path: ['retention', i, 'path'], message: problem });
      });
    })
    .prefault({}),
  /**
   * How long Keel keeps its own records under `.keel/` (`keel gc` frees what is older): journals
   * of finished runs (their summaries stay in the run store) and decided proposals.
   */
  retention: z
    .strictObject({
      keel: z
        .strictObject({ runs: Duration.default('90d'), proposals: Duration.default('90d') })
        .prefault({}),
    })
    .prefault({}),
  runbooks: z
    .strictObject({
      dir: relativeDir.default('runbooks'),
      /** Runs executing at once; more wait in the queue. A run waiting for a decision takes none. */
      concurrency: z.number().int().min(1).max(16).default(2),
      /** Steps of one run executing at once, when their `needs:` let them (1: one at a time). */
      parallelSteps: z.number().int().min(1).max(16).default(4),
    })
    .prefault({}),
  /**
   * Spend limits per agent (a runbook's name, or a role shared by several runbooks) and period:
   * a warning past `warnAt`, then new runs of that agent are refused until the period ends.
   */
  quotas: z
    .array(
      z
        .strictObject({
          agent: z.string().min(1),
          period: z.enum(['day', 'month']),
          maxUsd: z.number().positive().optional(),
          maxTokens: z.number().int().positive().optional(),
          /** Share of the quota after which the operator is warned. */
          warnAt: z.number().gt(0).lt(1).default(0.8),
        })
        .refine((q) => q.maxUsd !== undefined || q.maxTokens !== undefined, {
          error: 'a quota needs maxUsd, maxTokens or both',
        }),
    )
    .default([]),
  /** Circuit breakers: stop calling what keeps failing, try again after a cool-down. */
  breakers: z
    .strictObject({
      /** Failed calls in a row that open a model endpoint's breaker. */
      modelFailures: z.number().int().min(1).default(5),
      /** Failed runs in a row that open a runbook's breaker. */
      runFailures: z.number().int().min(1).default(3),
      /** Seconds a breaker stays open before it lets one trial through. */
      coolDownSeconds: z.number().positive().default(60),
    })
    .prefault({}),
  approvals: z
    .strictObject({
      /**
       * What agents may change without asking, per path: a change is applied at once when a rule
       * whose glob matches its path allows its kind (`create` of a file that does not exist yet,
       * `modify` of one that does, `delete`). Everything else waits for the operator. keel.yaml,
       * runbooks/ and .vscode/ always need a decision, whatever a rule says, and nothing under
       * .git/ is ever written. Default: only new files under memory/working/ and outbox/.
       */
      rules: z
        .array(ApprovalRule)
        .default(() => DEFAULT_APPROVAL_RULES.map((rule) => ({ ...rule, allow: [...rule.allow] }))),
      /**
       * Deprecated (read as `rules` that allow `create` only): paths agents could change without
       * asking. Write `rules: [{ path: <glob>, allow: [create] }]` instead.
       */
      autoApply: z.array(glob).optional(),
      /**
       * Who decides connector actions, before their risk's default (read: at once; internal: the
       * file rules; external and irreversible: the operator). The first matching rule decides.
       */
      actions: z.array(ActionRule).default([]),
      /** Named lists that `in` and `notIn` of action rules refer to: `trustedDomains: [acme.com]`. */
      lists: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/), z.array(z.string().min(1))).default({}),
      /**
       * A run whose cost forecast (p95 of the runbook's past runs at its tier, or its budget's
       * maxUsd without history) is above this many US dollars waits for the operator before its
       * first step. Absent: runs never wait for their cost.
       */
      costAbove: z.number().nonnegative().finite().optional(),
    })
    .prefault({}),
  /** Alerts outside the editor (an email to the operator); none when absent. */
  alerts: AlertsConfig.optional(),
  /** The webhook listener (POST /hooks/<connector>); none when absent. */
  webhooks: WebhooksConfig.optional(),
  /** Connectors this workspace uses, by the name runbooks and rules call them. */
  connectors: z.record(ConnectorName, ConnectorConfig).default({}),
  models: z
    .strictObject({
      endpoint: ModelEndpoint.optional(),
      tiers: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), ModelTier).default({}),
      /** Seconds one model call may take before it is abandoned and retried. */
      timeoutSeconds: z.number().positive().max(3_600).default(60),
      retry: RetryPolicy.prefault({}),
    })
    .prefault({}),
});
export type WorkspaceConfig = z.infer<typeof WorkspaceConfig>;

/** The workspace config file's name, at the root of the workspace. */
export const CONFIG_FILE = 'keel.yaml';

/** What `keel init` writes: every default spelled out, with comments saying what each one does. */
export const DEFAULT_CONFIG_YAML = `# Keel workspace configuration. Docs: README.md of the Keel repository.
version: 1

# The company this workspace runs, shown in the sidebar.
# company: Acme Consulting

memory:
  # Durable memory: Markdown notes with YAML frontmatter (type, tags, review-by, ...).
  dir: memory
  # Notes older than this many days, without a review-by date, are marked stale in search.
  maxAgeDays: 365
  # Vector search embeddings. "local" needs no network and no download. For an
  # OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, LM Studio) write, for instance:
  #   embeddings: { provider: openai, model: text-embedding-3-small }
  embeddings:
    provider: local
  # Working memory expires: "archive" (moved to memory/archive/, searchable with a path filter),
  # "summarise" (one durable note proposed) or "delete", each through your approvals.
  retention:
    - { path: "memory/working/**", after: 30d, then: archive }

runbooks:
  # Role agents (apiVersion keel/v1) and their tests.
  dir: runbooks
  # Runs executing at once (more wait in the queue; a run waiting for you takes none), and steps
  # of one run executing at once when their needs: let them.
  concurrency: 2
  parallelSteps: 4

approvals:
  # What agents may change without asking: "create" (a new file), "modify", "delete", per path.
  # Everything else waits for your decision. keel.yaml, runbooks/ and .vscode/ always wait.
  rules:
    - { path: "memory/working/**", allow: [create] }
    - { path: "outbox/**", allow: [create] }

models:
  # An OpenAI-compatible endpoint. The key is read from the environment variable named here,
  # never from a file.
  endpoint:
    baseUrl: https://api.openai.com/v1
    apiKeyEnv: OPENAI_API_KEY
  # Runbooks ask for a tier; prices (USD per million tokens) drive budgets and spend reports.
  tiers:
    fast:
      model: gpt-4o-mini
      inputUsdPerMTok: 0.15
      outputUsdPerMTok: 0.6
    strong:
      model: gpt-4o
      inputUsdPerMTok: 2.5
      outputUsdPerMTok: 10
`;
