/**
 * Approvals: every risky change an agent proposes waits for the operator, who approves it (as
 * proposed or edited) or rejects it with a reason the run can act on.
 */
import { z } from 'zod';
import { defineNotification, defineRequest, lazy } from './define';

export const FileChange = lazy(() =>
  z.object({
    /** Workspace-relative, forward slashes. */
    path: z.string().min(1),
    action: z.enum(['create', 'modify', 'delete']),
    /** sha256 of the file the change was computed against; null when the file did not exist. */
    baseHash: z.string().nullable(),
    /** The proposed full content; null for a delete. */
    content: z.string().nullable(),
    /**
     * For a propose step's `append:`: the heading and text it appends. When the file changes before
     * the decision, the content is computed again from the file as it is then, so the new diff still
     * adds only these lines.
     */
    append: z.object({ under: z.string(), text: z.string() }).optional(),
  }),
);
export type FileChange = z.infer<typeof FileChange>;

/**
 * An action proposal: a connector action that waits for the operator (a keel.yaml rule, or its
 * risk, said to ask). It carries the action's input and the document the operator reads and may
 * edit; approving performs the action (with the edited document turned back into the input).
 */
export const ActionProposal = lazy(() =>
  z.object({
    /** The connector as the runbook named it (`email`), and its id (`email@1`). */
    connector: z.string(),
    use: z.string(),
    action: z.string(),
    risk: z.enum(['read', 'internal', 'external', 'irreversible']),
    /** The validated input the action would run with, as proposed. */
    input: z.unknown(),
    review: z.object({
      title: z.string(),
      language: z.enum(['email', 'yaml', 'markdown']),
      text: z.string(),
    }),
    /** Why it asks: the keel.yaml rule, or the risk's default. */
    rule: z.string(),
    /** The operator's version of the review document, once approved edited. */
    edited: z.string().nullable().default(null),
  }),
);
export type ActionProposal = z.infer<typeof ActionProposal>;

export const ProposalStatus = lazy(() =>
  z.enum([
    /** Waiting for the operator. */
    'pending',
    /** A file changed after the proposal was made: it must be looked at again against the file as it is now. */
    'stale',
    /** Written and committed: as proposed, as the operator edited it, or by a policy rule. */
    'applied',
    'rejected',
  ]),
);
export type ProposalStatus = z.infer<typeof ProposalStatus>;

/** A proposal changes files, or waits to perform a connector action; never neither. */
export const Proposal = lazy(() =>
  z
    .object({
      id: z.string(),
      runId: z.string(),
      stepId: z.string(),
      runbook: z.string(),
      summary: z.string(),
      /** Why the agent proposes it, in its words. */
      reasoning: z.string(),
      /** The file changes; none for an action proposal (`action`), which changes no file itself. */
      changes: z.array(FileChange.unwrap()),
      /** For an action proposal: the connector action waiting for the operator. */
      action: ActionProposal.unwrap().optional(),
      status: ProposalStatus.unwrap(),
      /** Touches keel.yaml, runbooks/ or .vscode/: only an explicit decision applies it, whatever the policy. */
      protected: z.boolean(),
      createdAt: z.string(),
      /** For a stale proposal: the files that changed since it was made. */
      staleFiles: z.array(z.string()),
      decision: z
        .object({
          /**
           * Who decided: the operator (`approved`, `edited`, `rejected`) or a policy rule of keel.yaml
           * (`policy`, which applies changes without the operator seeing them first).
           */
          kind: z.enum(['approved', 'edited', 'rejected', 'policy']),
          /** For `policy`: the rule that let the change through, as `<path glob> allow <kinds>`. */
          rule: z.string().optional(),
          reason: z.string().nullable(),
          /** The git commit that recorded an applied change (or a rejection's lesson). */
          commit: z.string().nullable(),
          /**
           * The decision taught the runbook a lesson (`memory/feedback/<runbook>.md`): an edit, or a
           * rejection with its reason; not a withdrawal because the run was cancelled.
           */
          lesson: z.boolean().optional(),
          at: z.string(),
        })
        .nullable(),
    })
    .refine((p) => p.changes.length > 0 || p.action !== undefined, {
      error: 'a proposal changes at least one file, or carries a connector action',
    }),
);
export type Proposal = z.infer<typeof Proposal>;

/** `keel/approvals/list`: proposals, the pending (and stale) ones first. */
export const ApprovalsListRequest = defineRequest({
  method: 'keel/approvals/list',
  params: lazy(() =>
    z
      .strictObject({ status: z.array(ProposalStatus.unwrap()).min(1).optional() })
      .optional()
      .default({}),
  ),
  result: lazy(() => z.object({ approvals: z.array(Proposal.unwrap()) })),
});

export const ApprovalGetRequest = defineRequest({
  method: 'keel/approvals/get',
  params: lazy(() => z.strictObject({ id: z.string().min(1) })),
  result: lazy(() =>
    z.object({
      proposal: Proposal.unwrap(),
      /** Each changed file as it is on disk now (null when absent), for the diff's left side. */
      current: z.record(z.string(), z.string().nullable()),
    }),
  ),
});

/** `keel/approvals/approve`: applies the proposal (all files or none) and commits it to git. */
export const ApprovalApproveRequest = defineRequest({
  method: 'keel/approvals/approve',
  params: lazy(() =>
    z.strictObject({
      id: z.string().min(1),
      /** The operator's version of some files (path → full content); the decision becomes `edited`. */
      edited: z.record(z.string(), z.string()).optional(),
      /** For an action proposal: the operator's version of its review document. */
      editedReview: z.string().max(1_000_000).optional(),
    }),
  ),
  result: Proposal,
});

/** `keel/approvals/reject`: the run learns the reason and goes on without the change. */
export const ApprovalRejectRequest = defineRequest({
  method: 'keel/approvals/reject',
  params: lazy(() =>
    z.strictObject({
      id: z.string().min(1),
      reason: z.string().trim().min(1, { error: 'say why, so the agent can act on it' }).max(4_000),
    }),
  ),
  result: Proposal,
});

/** `keel/approvals/changed`: a proposal was made, became stale, or was decided. */
export const ApprovalsChangedNotification = defineNotification({
  method: 'keel/approvals/changed',
  direction: 'serverToClient',
  params: lazy(() => z.object({ proposal: Proposal.unwrap(), pending: z.number().int().min(0) })),
});
