/**
 * The operator trusts a workspace, as they would from the editor's prompt or `keel trust`: the
 * daemon is asked what the workspace wants, and that exact state is granted.
 */
import { TrustGrantRequest, TrustStateRequest, type TrustState } from '@keel/schemas';
import type { Daemon } from '../../daemon/src/daemon';

export async function trust(daemon: Daemon): Promise<TrustState> {
  const state = TrustStateRequest.result.parse(
    await daemon.router.dispatch(TrustStateRequest.method, {}, { transport: 'in-process' }),
  );
  return TrustGrantRequest.result.parse(
    await daemon.router.dispatch(
      TrustGrantRequest.method,
      { wantsHash: state.wantsHash },
      { transport: 'in-process' },
    ),
  );
}
