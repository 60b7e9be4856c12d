/**
 * Embeddings from any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, LM Studio) through the
 * official `openai` SDK, which brings retries with backoff for 429 and 5xx answers.
 */
import type OpenAI from 'openai';
import type { EmbeddingsConfig, ModelEndpoint } from '@keel/schemas';
import { OPENAI_HEADERS } from '../../runtime/openaiHeaders';
import { modelFetch } from '../../runtime/modelFetch';
import { openaiSdk } from '../../runtime/openaiSdk';
import type { Embedder } from './embedder';

type OpenAiConfig = Extract<EmbeddingsConfig, { provider: 'openai' }>;

export class OpenAiEmbedder implements Embedder {
  private constructor(
    private readonly client: OpenAI,
    private readonly config: OpenAiConfig,
    readonly id: string,
    readonly dimensions: number,
  ) {}

  /** Connects and asks for one embedding, so a wrong URL, key or model fails here, clearly. */
  static async create(config: OpenAiConfig, endpoint: ModelEndpoint | undefined): Promise<OpenAiEmbedder> {
    const baseURL = config.baseUrl ?? endpoint?.baseUrl;
    if (!baseURL) {
      throw new Error(
        'keel.yaml: memory.embeddings uses provider "openai" but names no baseUrl, and models.endpoint has none.',
      );
    }
    const keyEnv = config.apiKeyEnv ?? endpoint?.apiKeyEnv;
    const apiKey = keyEnv ? process.env[keyEnv] : undefined;
    if (keyEnv && !apiKey) {
      throw new Error(
        `The embeddings endpoint needs an API key in the environment variable ${keyEnv}, which is not set. ` +
          'Set it where the daemon starts (your shell, or VS Code), or remove apiKeyEnv for a local server.',
      );
    }
    const OpenAiClient = openaiSdk();
    const client = new OpenAiClient({
      baseURL,
      apiKey: apiKey ?? 'not-needed',
      maxRetries: 4,
      timeout: 60_000,
      defaultHeaders: OPENAI_HEADERS,
      // As model calls: no redirect followed, the notes go to the trusted origin or nowhere.
      fetch: modelFetch,
    });
    const probe = await client.embeddings.create({
      model: config.model,
      input: ['keel'],
      ...(config.dimensions ? { dimensions: config.dimensions } : {}),
    });
    const dimensions = probe.data[0]?.embedding.length ?? 0;
    if (dimensions === 0) throw new Error(`The embeddings endpoint ${baseURL} answered without a vector.`);
    const id = `openai/${config.model}/${dimensions}@${new URL(baseURL).host}`;
    return new OpenAiEmbedder(client, config, id, dimensions);
  }

  async embedDocuments(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.config.batchSize) {
      const batch = texts.slice(i, i + this.config.batchSize).map((t) => (t.length > 0 ? t : ' '));
      const response = await this.client.embeddings.create({
        model: this.config.model,
        input: batch,
        ...(this.config.dimensions ? { dimensions: this.config.dimensions } : {}),
      });
      const ordered = [...response.data].sort((a, b) => a.index - b.index);
      for (const item of ordered) out.push(normalize(Float32Array.from(item.embedding)));
    }
    return out;
  }

  async embedQuery(text: string): Promise<Float32Array> {
    const [vector] = await this.embedDocuments([text]);
    return vector!;
  }
}

function normalize(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}
