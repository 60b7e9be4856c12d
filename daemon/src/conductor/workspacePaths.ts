/** Moved to files/workspacePaths.ts, which resolves every workspace path; kept so older imports build. */
export { absoluteIn, isProtected, PROTECTED_PATHS, workspaceRelative } from '../files/workspacePaths';
