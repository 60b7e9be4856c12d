/**
 * The approvals of a workspace: agents propose file changes here; what a policy rule lets through
 * is applied at once (and recorded as the rule's decision), the rest waits for the operator's
 * decision, durably. Approving applies all
 * files or none and commits them; editing records the correction as feedback; rejecting hands
 * the reason back to the run.
 */
import type { ActionProposal, ChangeKind, FileChange, Proposal, WorkspaceConfig } from '@keel/schemas';
import { OperatorError } from '../errors';
import type { Logger } from '../log';
import { isProtected, workspaceRelative, WorkspacePathError } from '../files/workspacePaths';
import {
  changedSince,
  commitLesson,
  commitProposal,
  currentContents,
  FileAppearedError,
  sha256,
  writeAll,
} from './applyChanges';
import { feedbackPath, withFeedback, withLesson } from './feedback';
import { approvalRules, describeRule, needsOperator, ruleFor } from './policy';
import { ProposalStore, type StoredProposal } from './proposalStore';
import { markedStale } from './staleProposal';
import { stampWorkingNote, type NoteSource } from '../memory/retention/workingStamp';

export interface ProposeInput {
  /** Stable for the run and step (and tool call): proposing again returns the same proposal. */
  id: string;
  runId: string;
  stepId: string;
  runbook: string;
  summary: string;
  reasoning: string;
  /**
   * `baseHash`: the sha256 of the file the content was computed from (a propose step's `append:`);
   * when the file is no longer that, the proposal is recorded stale, never applied by policy.
   */
  changes: { path: string; content: string | null; baseHash?: string; append?: FileChange['append'] }[];
  /** For an action proposal (no file changes): the connector action that waits. */
  action?: Omit<ActionProposal, 'edited'>;
  /** Proposed by a run started by an event: only file rules with `events: true` apply it at once. */
  fromEvent?: boolean;
  /**
   * The run (and event) proposing: notes it writes under a `memory.retention` path are stamped
   * with `created`, `expires` and this `source` (see memory/retention/workingStamp.ts).
   */
  source?: NoteSource;
  /** The operator decides, whatever the rules say (the expiry job, for notes the operator wrote). */
  askOperator?: boolean;
}

/**
 * Why the operator's edited review document does not make a valid input for the proposed action
 * (null when it does): checked before the decision is recorded, so a bad edit is refused and the
 * proposal stays pending, never "edited" with nothing sent.
 */
export type EditCheck = (action: ActionProposal, editedReview: string) => string | null;

/** A decision that cannot be carried out as asked: the operator can fix it. */
export class ApprovalError extends OperatorError {}

export class ApprovalService {
  private readonly waiters = new Map<string, ((proposal: Proposal) => void)[]>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly workspace: string,
    private readonly store: ProposalStore,
    private config: WorkspaceConfig,
    private readonly log: Logger,
    private readonly onChanged: (proposal: Proposal, pending: number) => void,
    private readonly trusted: () => boolean,
    private readonly checkEdit: EditCheck,
  ) {}

  static async open(options: {
    workspace: string;
    config: WorkspaceConfig;
    log: Logger;
    onChanged: (proposal: Proposal, pending: number) => void;
    /** Stored decisions are finished only in a workspace the operator trusts. */
    trusted: () => boolean;
    /** Why an edited review is not a valid input of its action, or null (default: no check). */
    checkEdit?: EditCheck;
  }): Promise<ApprovalService> {
    const store = await ProposalStore.open(options.workspace, (m) => options.log.warn(m));
    const service = new ApprovalService(
      options.workspace,
      store,
      options.config,
      options.log,
      options.onChanged,
      options.trusted,
      options.checkEdit ?? (() => null),
    );
    service.refuseUnsafe();
    await service.finishInterrupted();
    return service;
  }

  configure(config: WorkspaceConfig): void {
    this.config = config;
  }

  /**
   * The rule (described) that lets `kind` of change to `path` through without the operator, or
   * null when the operator decides. Throws for .git/ and for paths outside the workspace.
   */
  policyRule(path: string, kind: ChangeKind, fromEvent = false): string | null {
    const rules = approvalRules(this.config.approvals);
    const rule = ruleFor(path, kind, rules, this.config.runbooks.dir, fromEvent);
    return rule ? describeRule(rule) : null;
  }

  list(statuses?: Proposal['status'][]): Proposal[] {
    const order: Record<Proposal['status'], number> = { pending: 0, stale: 0, applied: 1, rejected: 1 };
    return this.store
      .all()
      .filter((p) => !statuses || statuses.includes(p.status))
      .sort((a, b) => order[a.status] - order[b.status] || b.createdAt.localeCompare(a.createdAt))
      .map(publicOf);
  }

  async get(id: string): Promise<{ proposal: Proposal; current: Record<string, string | null> }> {
    const proposal = this.require(id);
    return {
      proposal: publicOf(proposal),
      current: await currentContents(
        this.workspace,
        proposal.changes.map((c) => c.path),
      ),
    };
  }

  /** Records a proposal (or returns the one with this id); applies it at once if policy allows. */
  propose(input: ProposeInput): Promise<Proposal> {
    return this.serially(async () => {
      const known = this.store.get(input.id);
      if (known) return publicOf(known);
      if (input.action) return this.proposeAction(input, input.action);
      const paths = input.changes.map((c) => workspaceRelative(c.path));
      const current = await currentContents(this.workspace, paths);
      const stampedAt = new Date();
      // Files edited since the run computed its change from them: the operator sees the diff
      // against the file as it is now and decides, as for any stale proposal.
      const moved: string[] = [];
      const changes = input.changes.map((proposed, i) => {
        const path = paths[i]!;
        // Only a note the run creates is stamped: one the operator wrote stays the operator's.
        const change =
          input.source && proposed.content !== null && (current[path] ?? null) === null
            ? {
                ...proposed,
                content: stampWorkingNote(path, proposed.content, {
                  rules: this.config.memory.retention,
                  now: stampedAt,
                  source: input.source,
                }),
              }
            : proposed;
        const before = current[path] ?? null;
        const baseHash = before === null ? null : sha256(before);
        if (proposed.baseHash !== undefined && proposed.baseHash !== baseHash) moved.push(path);
        return {
          path,
          action:
            change.content === null
              ? ('delete' as const)
              : before === null
                ? ('create' as const)
                : ('modify' as const),
          baseHash,
          content: change.content,
          ...(proposed.append ? { append: proposed.append } : {}),
        };
      });
      const runbooksDir = this.config.runbooks.dir;
      // The kind is what the change does to the file now: a "new" file that exists is a modify.
      const rules = changes.map((c) => this.policyRule(c.path, c.action, input.fromEvent === true));
      const computed: StoredProposal = {
        id: input.id,
        runId: input.runId,
        stepId: input.stepId,
        runbook: input.runbook,
        summary: input.summary,
        reasoning: input.reasoning,
        changes,
        status: 'pending',
        protected: paths.some((p) => needsOperator(p, runbooksDir)),
        createdAt: new Date().toISOString(),
        staleFiles: [],
        decision: null,
        applying: null,
        proposedContents: Object.fromEntries(changes.map((c) => [c.path, c.content])),
      };
      const proposal =
        moved.length > 0
          ? await markedStale(
              this.workspace,
              computed,
              Object.fromEntries(
                changes.filter((c) => moved.includes(c.path)).map((c) => [c.path, c.baseHash]),
              ),
            )
          : computed;
      await this.store.save(proposal);
      if (input.askOperator !== true && moved.length === 0 && rules.every((rule) => rule !== null)) {
        const named = [...new Set(rules)] as string[];
        try {
          return await this.apply(proposal, 'policy', null, `applied by policy: ${named.join('; ')}`, named);
        } catch (error) {
          // A file to create appeared since (the operator's, or a race): the operator decides.
          if (!(error instanceof FileAppearedError)) throw error;
          this.log.warn('a file the policy would create exists now; the change waits for approval', {
            proposal: proposal.id,
            error,
          });
        }
      }
      this.changed(proposal);
      this.log.info('a change waits for approval', { proposal: proposal.id, files: paths.join(', ') });
      return publicOf(proposal);
    });
  }

  /**
   * An action proposal waits for the operator whatever the file rules say: a keel.yaml action rule
   * or the action's risk already decided that it asks.
   */
  private async proposeAction(
    input: ProposeInput,
    action: Omit<ActionProposal, 'edited'>,
  ): Promise<Proposal> {
    const proposal: StoredProposal = {
      id: input.id,
      runId: input.runId,
      stepId: input.stepId,
      runbook: input.runbook,
      summary: input.summary,
      reasoning: input.reasoning,
      changes: [],
      action: { ...action, edited: null },
      status: 'pending',
      protected: false,
      createdAt: new Date().toISOString(),
      staleFiles: [],
      decision: null,
      applying: null,
      proposedContents: {},
    };
    await this.store.save(proposal);
    this.changed(proposal);
    this.log.info('an action waits for approval', {
      proposal: proposal.id,
      action: `${action.connector}.${action.action}`,
    });
    return publicOf(proposal);
  }

  /**
   * Approves a proposal: a file proposal is applied (`edited`: the operator's version of some
   * files); an action proposal is handed back to its run, which performs the action (`editedReview`:
   * the operator's version of its review document).
   */
  approve(id: string, edited?: Record<string, string>, editedReview?: string): Promise<Proposal> {
    return this.serially(async () => {
      const proposal = this.require(id);
      if (proposal.status === 'applied' || proposal.status === 'rejected') {
        throw new ApprovalError(`proposal ${id} was already ${proposal.status}`);
      }
      if (proposal.action) return this.approveAction(proposal, proposal.action, edited, editedReview);
      if (editedReview !== undefined) {
        throw new ApprovalError(`proposal ${id} changes files; edit its files, not a review document`);
      }
      for (const path of Object.keys(edited ?? {})) {
        if (!proposal.changes.some((c) => c.path === path)) {
          throw new ApprovalError(`proposal ${id} does not change ${path}; only its own files can be edited`);
        }
      }
      const changed = await changedSince(this.workspace, proposal);
      if (Object.keys(changed).length > 0) {
        // Never applied blind: the operator looks again at the diff against the file as it is now.
        const stale = await markedStale(this.workspace, proposal, changed);
        await this.store.save(stale);
        this.changed(stale);
        throw new ApprovalError(
          `${Object.keys(changed).join(', ')} changed since the proposal was made; it is marked stale: ` +
            'look at the new diff and decide again',
        );
      }
      const isEdited = Object.entries(edited ?? {}).some(
        ([path, text]) => proposal.proposedContents[path] !== text,
      );
      return this.apply(proposal, isEdited ? 'edited' : 'approved', edited ?? null, null, []);
    });
  }

  private approveAction(
    proposal: StoredProposal,
    action: ActionProposal,
    edited: Record<string, string> | undefined,
    editedReview: string | undefined,
  ): Promise<Proposal> {
    if (edited && Object.keys(edited).length > 0) {
      throw new ApprovalError(
        `proposal ${proposal.id} is the action ${action.connector}.${action.action}, not a file change: edit its review document (editedReview)`,
      );
    }
    const isEdited = editedReview !== undefined && editedReview !== action.review.text;
    const problem = isEdited ? this.checkEdit(action, editedReview) : null;
    if (problem !== null) {
      throw new ApprovalError(
        `the edit of proposal ${proposal.id} cannot be sent: ${problem}; it is still pending: fix the document and approve again, or reject it`,
      );
    }
    const decided: StoredProposal = {
      ...proposal,
      action: { ...action, edited: isEdited ? editedReview : null },
    };
    return this.apply(decided, isEdited ? 'edited' : 'approved', null, null, []);
  }

  /**
   * Rejects a proposal. The operator's reason becomes a lesson for the runbook (a section of
   * `memory/feedback/<runbook>.md`, committed); a withdrawal (`lesson: false`, the run was
   * cancelled) teaches nothing. The rejection is saved first and its lesson marked pending, so a
   * stop in between writes the lesson at the next start.
   */
  reject(id: string, reason: string, options: { lesson?: boolean } = {}): Promise<Proposal> {
    return this.serially(async () => {
      const proposal = this.require(id);
      if (proposal.status === 'applied' || proposal.status === 'rejected') {
        throw new ApprovalError(`proposal ${id} was already ${proposal.status}`);
      }
      const lesson = (options.lesson ?? true) && reason.trim() !== '';
      const rejected: StoredProposal = {
        ...proposal,
        applying: null,
        status: 'rejected',
        decision: {
          kind: 'rejected',
          reason,
          commit: null,
          ...(lesson ? { lesson } : {}),
          at: new Date().toISOString(),
        },
        lessonPending: lesson,
      };
      await this.store.save(rejected);
      this.decided(rejected);
      return publicOf(await this.writeLesson(rejected));
    });
  }

  /**
   * Writes a rejection's pending lesson and commits it (`Keel-Lesson: <proposal>`); once only,
   * also after a crash between the write and the save. A feedback file Keel may not write (a
   * link, a folder) drops the lesson with a warning: the reason stays on the proposal.
   */
  private async writeLesson(proposal: StoredProposal): Promise<StoredProposal> {
    if (!proposal.lessonPending || !proposal.decision?.reason) return proposal;
    if (!this.trusted()) return proposal;
    const path = feedbackPath(this.config.memory.dir, proposal.runbook);
    let commit: string | null = proposal.decision.commit;
    let lesson = true;
    try {
      const at = new Date(proposal.decision.at);
      const content = await withLesson(this.workspace, path, proposal, proposal.decision.reason, at);
      if (content !== null) await writeAll(this.workspace, { [path]: content });
      commit = await commitLesson(this.workspace, proposal, path);
    } catch (error) {
      // A feedback file Keel may not write (a link, a folder) never will be: the lesson is dropped.
      // Anything else (git busy with the operator's own index.lock) is tried again at the next start.
      const never = error instanceof WorkspacePathError;
      this.log.warn(
        never
          ? `the lesson of a rejection cannot be written to ${path}; it is dropped`
          : `the lesson of a rejection could not be written to ${path} now; Keel tries again at its next start`,
        { proposal: proposal.id, error: (error as Error).message },
      );
      if (!never) return proposal;
      lesson = false;
    }
    const written: StoredProposal = {
      ...proposal,
      lessonPending: false,
      decision: { ...proposal.decision, commit, lesson },
    };
    await this.store.save(written);
    this.changed(written);
    return written;
  }

  /** The `.keel/approvals/` file of a proposal (for keel gc's sizes). */
  fileOf(id: string): string {
    return this.store.fileOf(id);
  }

  /**
   * Forgets decided proposals (keel gc): their files go, and they are listed no more. A proposal
   * still pending, or being applied, is never forgotten.
   */
  forget(ids: readonly string[]): Promise<void> {
    return this.serially(async () => {
      for (const id of ids) {
        const proposal = this.store.get(id);
        if (!proposal || proposal.applying || proposal.lessonPending) continue;
        if (proposal.status !== 'applied' && proposal.status !== 'rejected') continue;
        await this.store.forget(id);
      }
    });
  }

  /** Resolves once the proposal is applied or rejected; rejects when `signal` aborts. */
  waitForDecision(id: string, signal: AbortSignal): Promise<Proposal> {
    const proposal = this.require(id);
    if (proposal.status === 'applied' || proposal.status === 'rejected')
      return Promise.resolve(publicOf(proposal));
    // An abort that came before the wait fires no event: it must end the wait at once.
    if (signal.aborted) return Promise.reject(new Error('stopped waiting for the approval'));
    return new Promise((resolve, reject) => {
      const done = (decided: Proposal): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(decided);
      };
      const onAbort = (): void => {
        this.waiters.set(
          id,
          (this.waiters.get(id) ?? []).filter((w) => w !== done),
        );
        reject(new Error('stopped waiting for the approval'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), done]);
    });
  }

  /** Withdraws the pending proposals of a cancelled run. */
  async withdraw(runId: string): Promise<void> {
    for (const proposal of this.store.all()) {
      if (proposal.runId === runId && (proposal.status === 'pending' || proposal.status === 'stale')) {
        await this.reject(proposal.id, 'the run was cancelled', { lesson: false }).catch(() => undefined);
      }
    }
  }

  /**
   * Carries out a decision: the decision and the exact contents are saved first, then the files
   * are written and committed, then the proposal is marked applied. Each step can be repeated,
   * which is what finishInterrupted does after a crash.
   */
  private async apply(
    proposal: StoredProposal,
    kind: 'approved' | 'edited' | 'policy',
    edited: Record<string, string> | null,
    reason: string | null,
    rules: string[],
  ): Promise<Proposal> {
    const contents: Record<string, string | null> = { ...proposal.proposedContents, ...(edited ?? {}) };
    const at = new Date();
    if (kind === 'edited') {
      const path = feedbackPath(this.config.memory.dir, proposal.runbook);
      // An action's correction is the difference between the documents, as a file's is.
      const [proposed, approved] = proposal.action
        ? [
            { [proposal.action.review.title]: proposal.action.review.text },
            { [proposal.action.review.title]: proposal.action.edited },
          ]
        : [proposal.proposedContents, contents];
      contents[path] = await withFeedback(this.workspace, path, proposal, proposed, approved, at);
    }
    const applying: StoredProposal = {
      ...proposal,
      applying: { kind, rules, contents, at: at.toISOString() },
    };
    await this.store.save(applying);
    try {
      return await this.complete(applying, reason);
    } catch (error) {
      // Nothing was written (all or none): disarm the decision, so no restart carries it out later.
      await this.store.save({ ...proposal, applying: null });
      if (error instanceof FileAppearedError) throw error;
      throw new ApprovalError(`the change could not be written, so nothing was: ${(error as Error).message}`);
    }
  }

  private async complete(proposal: StoredProposal, reason: string | null): Promise<Proposal> {
    const applying = proposal.applying!;
    // What a policy rule allowed as a create stays a create: a file there by now is not overwritten.
    const createOnly =
      applying.kind === 'policy'
        ? proposal.changes.filter((c) => c.action === 'create').map((c) => c.path)
        : [];
    await writeAll(this.workspace, applying.contents, createOnly);
    const extra = Object.keys(applying.contents).filter((p) => !proposal.changes.some((c) => c.path === p));
    let commit: string | null = null;
    let commitProblem: string | null = null;
    try {
      // An action approved as it was changes no file: there is nothing to commit.
      if (Object.keys(applying.contents).length > 0)
        commit = await commitProposal(this.workspace, proposal, applying.kind, applying.rules, extra);
    } catch (error) {
      commitProblem = `written, but git could not commit it: ${(error as Error).message.split('\n')[0]}`;
      this.log.error('the change was written but git could not commit it', { proposal: proposal.id, error });
    }
    const applied: StoredProposal = {
      ...proposal,
      status: 'applied',
      staleFiles: [],
      applying: null,
      decision: {
        kind: applying.kind,
        ...(applying.rules.length > 0 ? { rule: applying.rules.join('; ') } : {}),
        reason: commitProblem ?? reason,
        commit,
        ...(applying.kind === 'edited' ? { lesson: true } : {}),
        at: applying.at,
      },
    };
    await this.store.save(applied);
    this.decided(applied);
    // Other proposals computed against these files now see them changed: mark them stale at once.
    for (const other of this.store.all()) {
      if (other.id === proposal.id || other.status !== 'pending') continue;
      if (other.changes.some((c) => c.path in applying.contents)) {
        const changed = await changedSince(this.workspace, other);
        if (Object.keys(changed).length === 0) continue;
        const stale = await markedStale(this.workspace, other, changed);
        await this.store.save(stale);
        this.changed(stale);
      }
    }
    return publicOf(applied);
  }

  /**
   * Stored proposals are files in the workspace, so anyone could have written one: a proposal
   * whose paths leave the workspace, enter `.git/`, or whose decision writes files it does not
   * propose, is never listed nor applied.
   */
  private refuseUnsafe(): void {
    for (const proposal of this.store.all()) {
      const problem = unsafePaths(proposal, this.config.memory.dir);
      if (problem === null) continue;
      const file = this.store.refuse(proposal.id);
      this.log.warn(
        `${file} is refused and will never be applied: ${problem}. Keel did not write it; delete it.`,
        { proposal: proposal.id },
      );
    }
  }

  /**
   * After a crash: decisions saved but not carried out to the end are finished, once, and only
   * in a trusted workspace (a cloned one may carry decisions the operator never made).
   */
  finishInterrupted(): Promise<void> {
    // One at a time with the operator's decisions: a reject arriving meanwhile waits its turn.
    return this.serially(() => this.finishInterruptedNow());
  }

  private async finishInterruptedNow(): Promise<void> {
    if (!this.trusted()) {
      const waiting = this.store.all().filter((p) => p.applying).length;
      if (waiting > 0)
        this.log.warn('decisions interrupted by a stop wait for your trust in the workspace', { waiting });
      return;
    }
    for (const proposal of this.store.all()) {
      if (proposal.lessonPending) await this.writeLesson(proposal);
      if (!proposal.applying) continue;
      const runbooksDir = this.config.runbooks.dir;
      if (Object.keys(proposal.applying.contents).some((path) => isProtected(path, runbooksDir))) {
        // keel.yaml, .vscode/, .keel/ and runbooks change only on a decision made now, in front of
        // the operator: a saved decision is not enough (it could have been written by anyone).
        await this.store.save({ ...proposal, applying: null });
        this.log.warn('an interrupted approval changes protected files; it waits for a new decision', {
          proposal: proposal.id,
        });
        continue;
      }
      try {
        // Each file must hold its old content (not written yet) or the decided one (written):
        // anything else was edited since, and is never overwritten.
        const now = await currentContents(this.workspace, Object.keys(proposal.applying.contents));
        const baseOf = new Map(proposal.changes.map((c) => [c.path, c.baseHash]));
        const edited = Object.entries(proposal.applying.contents).filter(([path, target]) => {
          const current = now[path] ?? null;
          const hash = current === null ? null : sha256(current);
          return current !== target && baseOf.has(path) && hash !== baseOf.get(path);
        });
        if (edited.length > 0) {
          const stale: StoredProposal = {
            ...proposal,
            applying: null,
            status: 'stale',
            staleFiles: edited.map(([path]) => path),
          };
          await this.store.save(stale);
          this.log.warn('an interrupted approval found its files changed since; it is stale, decide again', {
            proposal: proposal.id,
            files: stale.staleFiles.join(', '),
          });
          continue;
        }
        this.log.warn('finishing an approved change interrupted by a stop', { proposal: proposal.id });
        await this.complete(proposal, null);
      } catch (error) {
        await this.store.save({ ...proposal, applying: null }).catch(() => undefined);
        this.log.error('an interrupted approval could not be finished; it waits for a new decision', {
          proposal: proposal.id,
          error,
        });
      }
    }
  }

  private require(id: string): StoredProposal {
    const proposal = this.store.get(id);
    if (!proposal) throw new ApprovalError(`no proposal "${id}" (see "keel approvals")`);
    return proposal;
  }

  private pending(): number {
    return this.store.all().filter((p) => p.status === 'pending' || p.status === 'stale').length;
  }

  private changed(proposal: StoredProposal): void {
    this.onChanged(publicOf(proposal), this.pending());
  }

  private decided(proposal: StoredProposal): void {
    this.changed(proposal);
    const waiters = this.waiters.get(proposal.id) ?? [];
    this.waiters.delete(proposal.id);
    for (const waiter of waiters) waiter(publicOf(proposal));
  }

  /** Decisions one at a time: two approvals of the same file never interleave their writes. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Why a stored proposal's paths are not ones Keel would have written, or null when they are. */
function unsafePaths(proposal: StoredProposal, memoryDir: string): string | null {
  const own = new Set(proposal.changes.map((c) => c.path));
  const paths = [
    ...own,
    ...Object.keys(proposal.applying?.contents ?? {}),
    ...Object.keys(proposal.proposedContents),
  ];
  for (const path of paths) {
    try {
      if (workspaceRelative(path) !== path) return `"${path}" is not a plain workspace path`;
    } catch (error) {
      return (error as Error).message;
    }
  }
  const feedback = feedbackPath(memoryDir, proposal.runbook);
  const extra = Object.keys(proposal.applying?.contents ?? {}).find((p) => !own.has(p) && p !== feedback);
  return extra === undefined ? null : `its decision writes ${extra}, which it does not propose`;
}

function publicOf(stored: StoredProposal): Proposal {
  const { applying: _applying, proposedContents: _proposed, lessonPending: _lesson, ...proposal } = stored;
  return proposal;
}
