/**
 * Embeddings behind one interface. The index records `id` and rebuilds itself when the configured
 * embedder's id differs from the one that built it.
 */
import type { EmbeddingsConfig, ModelEndpoint } from '@keel/schemas';

export interface Embedder {
  /** Identifies the model and its settings: `local-hash-v1/256`, `openai/text-embedding-3-small`. */
  readonly id: string;
  readonly dimensions: number;
  embedDocuments(texts: string[]): Promise<Float32Array[]>;
  embedQuery(text: string): Promise<Float32Array>;
}

export async function createEmbedder(
  config: EmbeddingsConfig,
  endpoint: ModelEndpoint | undefined,
): Promise<Embedder> {
  if (config.provider === 'local') {
    const { createLocalEmbedder } = await import('./local');
    return createLocalEmbedder();
  }
  const { OpenAiEmbedder } = await import('./openai');
  return OpenAiEmbedder.create(config, endpoint);
}
