/**
 * Recorded model answers (a cassette, written by `keel run --record`), served by step and call.
 * A prompt or a setting (model, temperature...) that changed since the recording is an error naming
 * it, so a runbook test catches it like a failing unit test rather than passing on a stale answer.
 */
import { Cassette, type CassetteEntry, type CassetteRetrieval } from '@keel/schemas';
import type { ModelResponse } from '../journalRecords';
import type { MemoryAccess } from '../steps/stepRuntime';
import { ModelCallError, type CallKey, type ModelProvider, type ToolDefinition } from './modelProvider';
import { callChanges, changedCallMessage } from './requestSettings';
import { readInsideText } from '../../files/workspacePaths';

export class CassetteProvider implements ModelProvider {
  readonly kind = 'cassette';
  private readonly entries = new Map<string, CassetteEntry>();

  /** What retrievals found when the cassette was recorded (this run's part). */
  readonly retrievals: CassetteRetrieval[];

  /** `live` or `scripted` (see `Cassette.source`); null when the cassette does not say. */
  cassetteSource: Cassette['source'] | null = null;

  /** Some answer of the file (any run's part) was recorded without its settings. */
  private settingsMissing = false;

  /**
   * @param scope the run's part of the cassette: absent for the run it was recorded from, its
   *   parent's step for a child run (see `CassetteEntry.scope`)
   */
  constructor(
    entries: CassetteEntry[],
    private readonly source: string,
    retrievals: CassetteRetrieval[] = [],
    scope?: string,
  ) {
    for (const entry of entries)
      if (entry.scope === scope) this.entries.set(`${entry.stepId}#${entry.call}`, entry);
    this.retrievals = retrievals.filter((retrieval) => retrieval.scope === scope);
  }

  /**
   * Reads a workspace-relative cassette file, through the workspace's path rules (no link
   * followed); a child run reads its part (`scope`).
   */
  static async load(workspace: string, path: string, scope?: string): Promise<CassetteProvider> {
    const label = path;
    let value: unknown;
    try {
      const text = await readInsideText(workspace, path);
      if (text === null) throw new Error('there is no such file');
      value = JSON.parse(text);
    } catch (error) {
      throw new Error(`cannot read the cassette ${label}: ${(error as Error).message}`);
    }
    const parsed = Cassette.safeParse(value);
    if (!parsed.success) {
      throw new Error(`${label} is not a Keel cassette: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    const provider = new CassetteProvider(parsed.data.entries, label, parsed.data.retrievals, scope);
    provider.cassetteSource = parsed.data.source ?? null;
    provider.settingsMissing = parsed.data.entries.some((entry) => entry.settings === undefined);
    return provider;
  }

  /**
   * What this cassette cannot check, said once: answers recorded before Keel kept each call's
   * settings are served without comparing model, temperature and the rest.
   */
  notes(): string[] {
    return this.settingsMissing
      ? [
          `${this.source} was recorded before Keel kept each call's model and settings: a changed model, ` +
            'temperature or max tokens is not noticed until you record it again with "keel run RUNBOOK --record FILE"',
        ]
      : [];
  }

  /**
   * The tools the step's first recorded call offered, or null: a test offers them as recorded
   * instead of starting the step's connectors to list them.
   */
  recordedTools(stepId: string): ToolDefinition[] | null {
    const tools = this.entries.get(`${stepId}#0`)?.tools;
    return tools ? (tools as ToolDefinition[]) : null;
  }

  complete(_request: unknown, key: CallKey): Promise<ModelResponse> {
    const entry = this.entries.get(`${key.stepId}#${key.call}`);
    if (!entry) {
      return Promise.reject(
        new ModelCallError(
          `${this.source} has no recorded answer for step "${key.stepId}" (call ${key.call + 1}); ` +
            'record it again with "keel run RUNBOOK --record FILE"',
          'cassette_missing',
          false,
        ),
      );
    }
    const changes = callChanges(entry, key);
    if (changes.length > 0) {
      return Promise.reject(
        new ModelCallError(
          changedCallMessage(key.stepId, key.call, changes, `${this.source} was recorded`) +
            '; record it again with "keel run RUNBOOK --record FILE"',
          'cassette_stale',
          false,
        ),
      );
    }
    return Promise.resolve(entry.response);
  }
}

/**
 * Memory as the cassette recorded it: a search asked as recorded gets the recorded results, so a
 * replay (a test, the demo) goes the same in any workspace. Other reads go to the workspace's memory.
 */
export function cassetteMemory(provider: CassetteProvider, live: MemoryAccess): MemoryAccess {
  return {
    search: (query, k, filter) => {
      const recorded = provider.retrievals.find((r) => r.query === query);
      return recorded ? Promise.resolve(recorded.results.slice(0, k)) : live.search(query, k, filter);
    },
    read: (path) => live.read(path),
    ...(live.indexedBlob ? { indexedBlob: live.indexedBlob.bind(live) } : {}),
  };
}
