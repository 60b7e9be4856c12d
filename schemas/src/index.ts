/**
 * @keel/schemas: every shape that crosses a boundary in Keel. No Node or VS Code imports here. The
 * messages between the extension and its webviews are `@keel/schemas/src/webviews`: only the
 * extension uses them, and the daemon's bundles would build their some 320 zod schemas at every
 * start (about 10 ms of `keel run`'s and a restart's; issue 14).
 */
export * from './protocol/index';
export * from './config';
export * from './memory';
export * from './runbook';
export * from './runbookEval';
export * from './runbookJsonSchema';
export * from './trustWords';
export * from './daemonEnvironment';
export * from './runInputValue';
