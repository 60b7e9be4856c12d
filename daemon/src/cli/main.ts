/** The `keel` command line: every command attaches to the workspace's daemon or runs one in-process. */
import { Command, CommanderError } from 'commander';
import { createLogger } from '../log';
import { NotAWorkspaceError } from '../workspace/locate';
import { KEEL_VERSION } from '../version';
import { registerApprovals } from './commands/approvals';
import { registerConnectors } from './commands/connectors';
import { registerDaemon } from './commands/daemon';
import { registerDemo } from './commands/demo';
import { registerEvals } from './commands/evals';
import { registerGc } from './commands/gc';
import { registerIndex } from './commands/index';
import { registerMcp } from './commands/mcp';
import { registerReport } from './commands/report';
import { registerRuns } from './commands/runs';
import { registerSearch } from './commands/search';
import { registerWhy } from './commands/why';
import { registerInit } from './commands/init';
import { registerStatus } from './commands/status';
import { registerStop } from './commands/stop';
import { registerTakeover } from './commands/takeover';
import { registerTrust } from './commands/trust';
import type { CliContext } from './context';

export function buildProgram(): Command {
  const program = new Command('keel')
    .description('Keel: an AI operating workspace for a one-person company')
    .version(KEEL_VERSION)
    .option(
      '-w, --workspace <dir>',
      'the workspace folder (default: the nearest folder with keel.yaml, upwards)',
    )
    .option('-y, --yes', 'trust the workspace without asking, where a command needs trust')
    .showHelpAfterError()
    .exitOverride();
  const context: CliContext = {
    // A daemon run by one command stays quiet unless something goes wrong.
    log: createLogger({ level: process.env.KEEL_LOG_LEVEL ? undefined : 'warn' }),
    workspaceOption: () => program.opts<{ workspace?: string }>().workspace,
    yes: () => program.opts<{ yes?: boolean }>().yes === true,
  };
  registerInit(program, context);
  registerStatus(program, context);
  registerTrust(program, context);
  registerIndex(program, context);
  registerGc(program, context);
  registerSearch(program, context);
  registerWhy(program, context);
  registerRuns(program, context);
  registerEvals(program, context);
  registerApprovals(program, context);
  registerReport(program, context);
  registerTakeover(program, context);
  registerConnectors(program, context);
  registerMcp(program, context);
  registerDemo(program, context);
  registerDaemon(program, context);
  registerStop(program, context);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    process.stderr.write(`keel: ${(error as Error).message}\n`);
    return error instanceof NotAWorkspaceError ? 2 : 1;
  }
}
