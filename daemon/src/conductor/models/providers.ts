/** The model provider a run uses, from keel.yaml, the environment and the editor's secret storage. */
import type { TrustEndpoint, WorkspaceConfig } from '@keel/schemas';
import { originOf } from '../../trust/wants';
import type { ModelResponse } from '../journalRecords';
import { ModelCallError, type CallKey, type ModelProvider, type ModelRequest } from './modelProvider';
import { OpenAiProvider } from './openaiProvider';

export interface ProviderSources {
  models: WorkspaceConfig['models'];
  /** The key the editor stored for this endpoint origin, if any: never one stored for another. */
  editorKey: (origin: string) => string | null;
  env: NodeJS.ProcessEnv;
  /** Whether the operator consented to requests to this endpoint with this key variable. */
  allows: (endpoint: TrustEndpoint) => boolean;
}

/**
 * The OpenAI-compatible endpoint of keel.yaml. Made on the first call, so a run that needs no
 * model (retrieve and connector steps only) runs without an endpoint or a key. Consent is checked
 * on every call: a workspace whose endpoint changed since the operator trusted it sends nothing.
 */
export function providerFor(sources: ProviderSources): ModelProvider {
  let provider: OpenAiProvider | null = null;
  return {
    kind: 'openai',
    complete(request: ModelRequest, key: CallKey, options): Promise<ModelResponse> {
      const endpoint = sources.models.endpoint;
      if (
        endpoint &&
        !sources.allows({
          purpose: 'models',
          origin: originOf(endpoint.baseUrl),
          apiKeyEnv: endpoint.apiKeyEnv ?? null,
        })
      ) {
        throw new ModelCallError(
          `the operator has not trusted requests to ${originOf(endpoint.baseUrl)}` +
            `${endpoint.apiKeyEnv ? ` with the key in ${endpoint.apiKeyEnv}` : ''}: run "keel trust" to review`,
          'config',
          false,
        );
      }
      provider ??= create(sources);
      return provider.complete(request, key, options);
    },
  };
}

function create({ models, editorKey, env }: ProviderSources): OpenAiProvider {
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
    const key = env[endpoint.apiKeyEnv] || editorKey(originOf(endpoint.baseUrl));
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
