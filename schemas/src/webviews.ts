/**
 * The messages between the extension host and its webviews: the sidebar, the dashboard, a run's
 * timeline and the approval inbox. Apart from the package's index (see index.ts).
 */
export * from './webview';
export * from './dashboardWebview';
export * from './runTimelineWebview';
export * from './approvalInboxWebview';
