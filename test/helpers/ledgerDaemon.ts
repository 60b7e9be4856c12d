/**
 * A real daemon process with the `ledger@1` test connector, for kill -9 tests:
 * `tsx ledgerDaemon.ts <workspace> [runbook]` trusts the workspace, starts the runbook if named
 * (printing `started <id>`), and otherwise waits for every run to end, prints `ended <json>` per
 * run and exits. KEEL_RUNTIME_DIR comes from the environment.
 */
import { RunsListRequest, RunStartRequest } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { ledgerConnector } from './ledgerConnector';
import { trust } from './trust';

async function main(workspace: string, runbook: string | undefined): Promise<void> {
  const daemon = await Daemon.start({
    workspace,
    mode: 'daemon',
    log: createLogger({ level: 'warn', write: () => undefined }),
    connectors: [ledgerConnector],
  });
  await trust(daemon);
  const client = new InProcessClient(daemon);
  if (runbook) {
    const run = await client.request(RunStartRequest, { runbook, inputs: {} });
    process.stdout.write(`started ${run.id}\n`);
    return; // runs until the test kills it
  }
  for (;;) {
    const { runs } = await client.request(RunsListRequest, {});
    if (runs.length > 0 && runs.every((run) => run.endedAt !== null)) {
      for (const run of runs) process.stdout.write(`ended ${JSON.stringify(run)}\n`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await daemon.stop('test');
  process.exit(0);
}

void main(process.argv[2]!, process.argv[3]);
