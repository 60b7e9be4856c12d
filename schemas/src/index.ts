/** @keel/schemas: every shape that crosses a boundary in Keel. No Node or VS Code imports here. */
export * from './protocol/index';
export * from './config';
export * from './memory';
export * from './runbook';
export * from './runbookEval';
export * from './webview';
export * from './runbookJsonSchema';
export * from './dashboardWebview';
export * from './runTimelineWebview';
export * from './approvalInboxWebview';
export * from './trustWords';
export * from './daemonEnvironment';
export * from './runInputValue';
