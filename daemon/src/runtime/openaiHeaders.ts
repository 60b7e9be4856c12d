/**
 * The headers Keel's `openai` clients set: the SDK's own User-Agent, given explicitly because the
 * SDK builds it from its class's name, which the minified bundles shorten (esbuild.mjs).
 */
import { VERSION } from 'openai/version';

export const OPENAI_HEADERS = { 'User-Agent': `OpenAI/JS ${VERSION}` };
