/** `keel/approvals/*`: the operator's decisions on proposed changes. */
import {
  ApprovalApproveRequest,
  ApprovalGetRequest,
  ApprovalRejectRequest,
  ApprovalsListRequest,
} from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerApprovalHandlers(router: Router, daemon: Daemon): void {
  const approvals = async () => (await daemon.conductor.get()).approvals;
  router.handle(ApprovalsListRequest, async ({ status }) => ({
    approvals: (await approvals()).list(status),
  }));
  router.handle(ApprovalGetRequest, async ({ id }) => (await approvals()).get(id));
  router.handle(ApprovalApproveRequest, async ({ id, edited, editedReview }) => {
    // Rejecting is always safe; carrying out a change waits until the operator trusts the workspace.
    daemon.trust.require('Applying a change');
    return (await approvals()).approve(id, edited, editedReview);
  });
  router.handle(ApprovalRejectRequest, async ({ id, reason }) => (await approvals()).reject(id, reason));
}
