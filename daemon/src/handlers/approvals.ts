/** `keel/approvals/*`: the operator's decisions on proposed changes. */
import {
  ApprovalApproveRequest,
  ApprovalGetRequest,
  ApprovalRejectRequest,
  ApprovalsListRequest,
  ErrorCodes,
  KeelRpcError,
} from '@keel/schemas';
import { ApprovalError } from '../approvals/approvalService';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerApprovalHandlers(router: Router, daemon: Daemon): void {
  const approvals = async () => (await daemon.conductor.get()).approvals;
  router.handle(ApprovalsListRequest, async ({ status }) => ({
    approvals: (await approvals()).list(status),
  }));
  router.handle(ApprovalGetRequest, async ({ id }) =>
    operatorFixable(async () => (await approvals()).get(id)),
  );
  router.handle(ApprovalApproveRequest, async ({ id, edited }) => {
    // Rejecting is always safe; carrying out a change waits until the operator trusts the workspace.
    daemon.trust.require('Applying a change');
    return operatorFixable(async () => (await approvals()).approve(id, edited));
  });
  router.handle(ApprovalRejectRequest, async ({ id, reason }) =>
    operatorFixable(async () => (await approvals()).reject(id, reason)),
  );
}

/** A decision that cannot be carried out (unknown, already decided, stale) answers InvalidParams with why. */
async function operatorFixable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApprovalError) throw new KeelRpcError(ErrorCodes.InvalidParams, error.message);
    throw error;
  }
}
