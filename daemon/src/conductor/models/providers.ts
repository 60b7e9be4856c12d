/** The model provider a run uses, from keel.yaml, the environment and the editor's secret storage. */
import type { WorkspaceConfig } from '@keel/schemas';
import type { ModelResponse } from '../journalRecords';
import { ModelCallError, type CallKey, type ModelProvider, type ModelRequest } from './modelProvider';
import { OpenAiProvider } from './openaiProvider';

/**
 * The OpenAI-compatible endpoint of keel.yaml. Made on the first call, so a run that needs no
 * model (retrieve and connector steps only) runs without an endpoint or a key.
 */
export function providerFor(
  models: WorkspaceConfig['models'],
  editorKey: () => string | null,
  env: NodeJS.ProcessEnv,
): ModelProvider {
  let provider: OpenAiProvider | null = null;
  return {
    kind: 'openai',
    complete(request: ModelRequest, key: CallKey, options): Promise<ModelResponse> {
      provider ??= create(models, editorKey(), env);
      return provider.complete(request, key, options);
    },
  };
}

function create(
  models: WorkspaceConfig['models'],
  editorKey: string | null,
  env: NodeJS.ProcessEnv,
): OpenAiProvider {
  const endpoint = models.endpoint;
  if (!endpoint) {
    throw new ModelCallError(
      'keel.yaml has no models.endpoint: add one (baseUrl of an OpenAI-compatible API) to run model steps',
      'config',
      false,
    );
  }
  let apiKey = 'not-needed';
  if (endpoint.apiKeyEnv) {
    const key = env[endpoint.apiKeyEnv] || editorKey;
    if (!key) {
      throw new ModelCallError(
        `no API key: set the environment variable ${endpoint.apiKeyEnv} (named by models.endpoint.apiKeyEnv in keel.yaml) ` +
          'or run "Keel: Set Model API Key" in the editor',
        'config',
        false,
      );
    }
    apiKey = key;
  }
  return new OpenAiProvider({ baseUrl: endpoint.baseUrl, apiKey });
}
