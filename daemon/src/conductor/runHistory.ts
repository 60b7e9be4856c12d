/**
 * What already happened in a run, read once from its journal: the one answer to "was this done
 * already?" (steps, model calls, side effects, decisions, spend), and the one door, `once`,
 * through which a step does anything outside itself. Live, a key the journal holds returns its
 * recorded result and nothing happens again; in a replay the journal answers or the run diverges.
 */
import type { ModelCallSettings } from '@keel/schemas';
import type { JournalRecord, RecordOf } from './journalRecords';
import { suppliedEnd } from './takeover';

/** The start of every model call's `once` key (`modelKey`). */
const MODEL_KEY_PREFIX = 'model:';

/** A replay met something the journal does not have, or one whose request changed. */
export class ReplayDivergenceError extends Error {
  constructor(
    readonly stepId: string,
    readonly kind: 'request' | 'missing',
    message: string,
    /** The `once` key the journal has no (matching) result for. */
    readonly key = '',
  ) {
    super(message);
  }
}

export interface OnceRequest {
  /**
   * Unique in the run: `model:<step>#<call>`, `effect:<idempotency key>`, `decision:<proposal>`,
   * `child:<run>`, `childEnd:<run>`.
   */
  key: string;
  /** The step doing it, named by a divergence. */
  stepId: string;
  /**
   * What the result was computed from (a request hash): a recorded result with another
   * fingerprint answers a different question, so it is done again (live) or diverges (replay).
   */
  fingerprint?: string;
  /** What the step does, for the divergence: `makes a model call (call 1)`. */
  what: string;
}

/** What `perform` did: the result, and the record that makes the journal remember it. */
export interface Performed<T> {
  result: T;
  record: JournalRecord;
}

export interface Spend {
  usd: number;
  tokens: number;
  /** Steps (and agent turns) the run has taken. */
  steps: number;
  /** Wall time the run has been active, not counting time waiting for the operator. */
  activeMs: number;
}

interface Recorded {
  result: unknown;
  fingerprint: string | null;
  /** What was asked, for a model call: the request as sent (its tools among it). */
  request?: unknown;
  /** A model call's prompt hash and settings, when the journal kept them. */
  promptHash?: string | undefined;
  settings?: ModelCallSettings | undefined;
}

export class RunHistory {
  private readonly results = new Map<string, Recorded>();
  private readonly starts = new Map<string, RecordOf<'stepStart'>>();
  private readonly ends = new Map<string, RecordOf<'stepEnd'>>();
  private readonly decisions = new Map<string, RecordOf<'decided'>>();
  /** The last failed attempt of each model call key (a call that never answered has only these). */
  private readonly failures = new Map<string, RecordOf<'modelCall'>>();
  private end: RecordOf<'runEnd'> | null = null;
  private cancel = false;
  /** Per step, how many takeovers made it run again (proposals of each get ids of their own). */
  private readonly generations = new Map<string, number>();
  /** Steps whose output the operator supplied by hand (a replay takes it from the journal). */
  private readonly supplied = new Set<string>();
  /** Intents of actions (by `once` key) with no effect or failure recorded after them yet. */
  private readonly openIntents = new Map<string, RecordOf<'effectIntent'>>();
  /** Every intent by `once` key (the input an action was performed with, for its undo). */
  private readonly intents = new Map<string, RecordOf<'effectIntent'>>();
  /** Compensation's line for each action it settled, by the action's idempotency key. */
  private readonly compensations = new Map<string, RecordOf<'compensation'>>();
  /** Records indexed so far: a live journal grows, and is indexed as far as it has grown. */
  private indexed = 0;
  /** Step ends written by `appendEnd` and not yet durable, and the first of them that failed. */
  private pendingEnds: Promise<void> = Promise.resolve();
  private unwritten: { stepId: string; error: unknown } | null = null;

  /**
   * @param records the journal; live, the journal's own array, which grows as records are written
   * @param sink writes a record: to the journal (live), or to the replay's own copy (replay), which
   *   the history never reads
   */
  constructor(
    private readonly records: readonly JournalRecord[],
    readonly mode: 'live' | 'replay',
    private readonly sink: (record: JournalRecord) => Promise<void>,
  ) {
    if (records[0]?.type !== 'run') throw new Error('a run history starts with the run record');
  }

  get run(): RecordOf<'run'> {
    return this.records[0] as RecordOf<'run'>;
  }

  /** Writes a record that answers no `once` key (a step's start, a failed attempt, `waiting`). */
  async append(record: JournalRecord): Promise<void> {
    this.throwIfUnwritten();
    await this.sink(record);
    if (this.mode === 'live') this.index(record);
  }

  /**
   * Writes a step's end without waiting for it to be durable: the end is written now, in order,
   * and its fdatasync runs while the next step starts and asks the model (whose records are not
   * synced themselves: losing them only repeats work). Whatever must come after it on disk waits
   * for it: every later synced record (an action's intent, a proposal, the run's end) is synced
   * with it, `once` settles it before anything but a model call, and so does the run's end
   * (`settled`). Its failure is thrown by the next append, `once` or `settled`.
   */
  appendEnd(record: RecordOf<'stepEnd'>): void {
    this.throwIfUnwritten();
    const written = this.sink(record).then(
      () => {
        if (this.mode === 'live') this.index(record);
      },
      (error: unknown) => {
        this.unwritten ??= { stepId: record.stepId, error };
      },
    );
    this.pendingEnds = Promise.all([this.pendingEnds, written]).then(() => undefined);
  }

  /** Resolves once every step end written so far is durable; throws if one could not be written. */
  async settled(): Promise<void> {
    await this.pendingEnds;
    this.throwIfUnwritten();
  }

  private throwIfUnwritten(): void {
    if (!this.unwritten) return;
    const { stepId, error } = this.unwritten;
    throw new Error(
      `the journal could not record the end of step "${stepId}": ${error instanceof Error ? error.message : String(error)}`,
    );
  }

  /**
   * Does something outside the run once per key. A key the journal holds (with the same
   * fingerprint) returns its recorded result without `perform`; otherwise live performs, journals
   * the record `perform` gives and returns its result, and a replay throws a divergence naming the
   * step and the key.
   */
  async once<T>(request: OnceRequest, perform: () => Promise<Performed<T>>): Promise<T> {
    this.throwIfUnwritten();
    const known = this.recorded(request.key);
    if (known && (request.fingerprint === undefined || known.fingerprint === request.fingerprint)) {
      return known.result as T;
    }
    if (this.mode === 'replay') {
      throw new ReplayDivergenceError(
        request.stepId,
        known ? 'request' : 'missing',
        known
          ? `step "${request.stepId}" ${request.what} with a different request than the journal recorded`
          : `step "${request.stepId}" ${request.what} the journal does not have (${request.key})`,
        request.key,
      );
    }
    // Nothing outside the run happens before the step ends before it are on disk; a model call
    // is asked again after a power cut anyway.
    if (!request.key.startsWith(MODEL_KEY_PREFIX)) await this.settled();
    const { result, record } = await perform();
    await this.append(record);
    return result;
  }

  /** The recorded result of a `once` key, if the journal has one. */
  recorded(key: string): Recorded | undefined {
    this.catchUp();
    return this.results.get(key);
  }

  stepStart(stepId: string): RecordOf<'stepStart'> | undefined {
    this.catchUp();
    return this.starts.get(stepId);
  }

  /** The step's last end record (a failed step that was tried again ends again). */
  stepEnd(stepId: string): RecordOf<'stepEnd'> | undefined {
    this.catchUp();
    return this.ends.get(stepId);
  }

  /** The tier the step's own route chose, if it has started before. */
  stepRoute(stepId: string): RecordOf<'stepRoute'> | undefined {
    return this.records.find(
      (r): r is RecordOf<'stepRoute'> => r.type === 'stepRoute' && r.stepId === stepId,
    );
  }

  /** Whether the journal has the step's escalation between these tiers (a restarted step has). */
  escalated(stepId: string, fromTier: string, toTier: string): boolean {
    return this.records.some(
      (r) => r.type === 'escalation' && r.stepId === stepId && r.fromTier === fromTier && r.toTier === toTier,
    );
  }

  /** The last failed attempt of a model call (`modelKey`), if the journal has one. */
  failedCall(key: string): RecordOf<'modelCall'> | undefined {
    this.catchUp();
    return this.failures.get(key);
  }

  /** How many times the operator took the run over with this step run again (0: never). */
  generation(stepId: string): number {
    this.catchUp();
    return this.generations.get(stepId) ?? 0;
  }

  /** The step's end when the operator supplied its output by hand. */
  suppliedEnd(stepId: string): RecordOf<'stepEnd'> | undefined {
    this.catchUp();
    return this.supplied.has(stepId) ? this.ends.get(stepId) : undefined;
  }

  /**
   * The intent of this `once` key when it has no result and no failure after it: the action was
   * cut off and may have happened.
   */
  openIntent(key: string): RecordOf<'effectIntent'> | undefined {
    this.catchUp();
    return this.openIntents.get(key);
  }

  /** The intent an action was performed under (its connector, action and input), if any. */
  intent(key: string): RecordOf<'effectIntent'> | undefined {
    this.catchUp();
    return this.intents.get(key);
  }

  /** The actions the run performed under an intent (those compensation may undo), oldest first. */
  performedActions(): RecordOf<'effect'>[] {
    this.catchUp();
    return this.records.filter(
      (record): record is RecordOf<'effect'> =>
        record.type === 'effect' &&
        this.intents.has(effectKey(record.key)) &&
        // An undo is known by its intent, never by its key: a step may be named `undo`.
        this.intents.get(effectKey(record.key))?.undoes === undefined,
    );
  }

  /** Actions (not undos) cut off with no result nor failure recorded: they may have happened. */
  cutOffActions(): RecordOf<'effectIntent'>[] {
    this.catchUp();
    return [...this.openIntents.values()].filter((intent) => intent.undoes === undefined);
  }

  /** How compensation settled the action with this idempotency key, if it did. */
  compensation(key: string): RecordOf<'compensation'> | undefined {
    this.catchUp();
    return this.compensations.get(key);
  }

  decision(proposalId: string): RecordOf<'decided'> | undefined {
    this.catchUp();
    return this.decisions.get(proposalId);
  }

  /** The run's end, once written. */
  ended(): RecordOf<'runEnd'> | null {
    this.catchUp();
    return this.end;
  }

  /** Whether the operator cancelled the run (its end may not be written yet). */
  cancelRequested(): boolean {
    this.catchUp();
    return this.cancel;
  }

  /**
   * What the run has used so far, for its budget after a restart: spend, tokens, steps, and the
   * active time of each stretch it ran (from its start or a resume to its last record before the
   * next), the operator's time excepted.
   */
  spend(): Spend {
    let activeMs = 0;
    let segmentStart: number | null = null;
    let last = 0;
    let waitingSince: number | null = null;
    const spent = { usd: 0, tokens: 0, steps: 0 };
    // Steps counted per step id: a takeover gives back the steps of those it runs again (the
    // money and tokens they spent stay spent).
    const stepsOf = new Map<string, number>();
    const countStep = (stepId: string): void => void stepsOf.set(stepId, (stepsOf.get(stepId) ?? 0) + 1);
    for (const record of this.records) {
      const at = Date.parse(record.at);
      if (record.type === 'waiting' || record.type === 'checkpoint') waitingSince = at;
      if ((record.type === 'decided' || record.type === 'checkpointDecided') && waitingSince !== null) {
        activeMs -= at - waitingSince;
        waitingSince = null;
      }
      if (record.type === 'run' || record.type === 'resume' || record.type === 'takeover') {
        if (segmentStart !== null) activeMs += last - segmentStart;
        segmentStart = at;
      }
      if (record.type === 'takeover') {
        waitingSince = null;
        for (const stepId of record.steps) stepsOf.delete(stepId);
      }
      last = at;
      if (record.type === 'stepEnd' && record.status !== 'skipped') countStep(record.stepId);
      if (record.type === 'childEnd') {
        // A child's spend is its parent's: the parent's budget covers it.
        spent.usd += record.costUsd;
        spent.tokens += record.tokens;
      }
      if (record.type === 'modelCall') {
        spent.usd += record.costUsd;
        spent.tokens +=
          (record.response?.usage.inputTokens ?? 0) + (record.response?.usage.outputTokens ?? 0);
        // An agent's turns after its first count as steps.
        if (record.call > 0 && record.attempt === 1 && record.outcome === 'ok') countStep(record.stepId);
      }
    }
    for (const count of stepsOf.values()) spent.steps += count;
    if (segmentStart !== null) activeMs += last - segmentStart;
    return { ...spent, activeMs: Math.max(0, activeMs) };
  }

  /**
   * The operator took the run over: its end and cancel are forgotten, and so is all the journal
   * said of the steps it runs again (their starts, ends, model answers, checkpoint answers), so
   * they run again; side effects are kept, so none happens twice. A hand-supplied output ends
   * its step.
   */
  private forget(record: RecordOf<'takeover'>): void {
    this.end = null;
    this.cancel = false;
    for (const stepId of record.steps) {
      this.starts.delete(stepId);
      this.ends.delete(stepId);
      this.supplied.delete(stepId);
      this.results.delete(checkpointKey(stepId));
      this.generations.set(stepId, (this.generations.get(stepId) ?? 0) + 1);
    }
    for (const key of [...this.results.keys()]) {
      const model = /^model:([^#@]+)[#@]/.exec(key);
      if (model && record.steps.includes(model[1]!)) this.results.delete(key);
    }
    for (const [key, failed] of [...this.failures]) {
      if (record.steps.includes(failed.stepId)) this.failures.delete(key);
    }
    // The operator was told to check the provider before taking the run over: an action cut off
    // in a step they run again is theirs to have judged, and runs again.
    for (const [key, intent] of [...this.openIntents]) {
      if (record.steps.includes(intent.stepId)) this.openIntents.delete(key);
    }
    if (record.supplied) {
      this.ends.set(record.fromStep, suppliedEnd(record));
      this.supplied.add(record.fromStep);
    }
  }

  private catchUp(): void {
    while (this.indexed < this.records.length) this.index(this.records[this.indexed++]!);
  }

  private index(record: JournalRecord): void {
    switch (record.type) {
      case 'stepStart':
        this.starts.set(record.stepId, record);
        break;
      case 'stepEnd':
        this.ends.set(record.stepId, record);
        break;
      case 'modelCall':
        if (record.outcome === 'ok' && record.response) {
          this.results.set(modelKey(record.stepId, record.call, record.stepAttempt), {
            result: record.response,
            fingerprint: record.requestHash,
            request: record.request,
            promptHash: record.promptHash,
            settings: record.settings,
          });
        } else {
          this.failures.set(modelKey(record.stepId, record.call, record.stepAttempt), record);
        }
        break;
      case 'effectIntent':
        this.openIntents.set(effectKey(record.key), record);
        this.intents.set(effectKey(record.key), record);
        break;
      case 'effectFailed':
        this.openIntents.delete(effectKey(record.key));
        break;
      case 'compensation':
        this.compensations.set(record.key, record);
        break;
      case 'effect':
        this.openIntents.delete(effectKey(record.key));
        this.results.set(effectKey(record.key), { result: record.result, fingerprint: null });
        break;
      case 'child':
        this.results.set(childKey(record.runId), { result: record, fingerprint: null });
        break;
      case 'childEnd':
        this.results.set(childEndKey(record.runId), { result: record, fingerprint: null });
        break;
      case 'decided':
        this.decisions.set(record.proposalId, record);
        this.results.set(decisionKey(record.proposalId), { result: record, fingerprint: null });
        break;
      case 'checkpointDecided':
        this.results.set(checkpointKey(record.stepId), { result: record, fingerprint: null });
        break;
      case 'cancelRequested':
        this.cancel = true;
        break;
      case 'takeover':
        this.forget(record);
        break;
      case 'runEnd':
        this.end = record;
        break;
      default:
        break;
    }
  }
}

/** The `once` key of the operator's answer at a checkpoint step. */
export function checkpointKey(stepId: string): string {
  return `checkpoint:${stepId}`;
}

/**
 * The `once` key of a step's model call (attempts of one call share it); a step's later attempt
 * (its `retry:`) has calls of its own.
 */
export function modelKey(stepId: string, call: number, stepAttempt = 1): string {
  const attempt = stepAttempt > 1 ? `@${stepAttempt}` : '';
  return `${MODEL_KEY_PREFIX}${stepId}${attempt}#${call}`;
}

/** The `once` key of a side effect with this idempotency key (`<run>:<step>[:<turn>:<call>]`). */
export function effectKey(idempotencyKey: string): string {
  return `effect:${idempotencyKey}`;
}

/**
 * The idempotency key of the undo of the action with this key: `<run>:<step>[...]:undo`, which no
 * step's own key can be (a step's is `<run>:<step>`, an agent call's `<run>:<step>:<turn>:<call>`).
 */
export function undoKey(idempotencyKey: string): string {
  return `${idempotencyKey}:undo`;
}

/** The `once` key of the operator's (or a policy rule's) decision on a proposal. */
export function decisionKey(proposalId: string): string {
  return `decision:${proposalId}`;
}

/** The `once` key of starting a child run (its id is its parent's, its step's and the attempt's). */
export function childKey(childRunId: string): string {
  return `child:${childRunId}`;
}

/** The `once` key of a child run's end, as its parent took it. */
export function childEndKey(childRunId: string): string {
  return `childEnd:${childRunId}`;
}
