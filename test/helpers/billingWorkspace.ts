/**
 * A fresh workspace for billing@1 tests: `initWorkspace`'d, with its own runtime dir, and the
 * environment variables that `billingAccount`'s keel.yaml entry reads its credentials from.
 */
import { initWorkspace } from '../../daemon/src/workspace/init';
import { TEST_SECRET_KEY } from './billingServer';
import { makeTempDirs, type TempDirs } from './workspace';

/**
 * Sets KEEL_RUNTIME_DIR, KEEL_STRIPE_KEY (the test server's key) and KEEL_STRIPE_WEBHOOK
 * (`webhookSecret`); `cleanup` unsets the two credentials again and removes the folders.
 */
export async function makeBillingWorkspace(prefix: string, webhookSecret = 'whsec_test'): Promise<TempDirs> {
  const dirs = await makeTempDirs(prefix);
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env.KEEL_STRIPE_KEY = TEST_SECRET_KEY;
  process.env.KEEL_STRIPE_WEBHOOK = webhookSecret;
  await initWorkspace(dirs.workspace);
  return {
    ...dirs,
    cleanup: async () => {
      delete process.env.KEEL_STRIPE_KEY;
      delete process.env.KEEL_STRIPE_WEBHOOK;
      await dirs.cleanup();
    },
  };
}
