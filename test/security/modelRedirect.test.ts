/**
 * A model endpoint that redirects: the operator trusted one origin, and neither the prompt (the
 * company's notes, quoted into it) nor the key goes anywhere else. The call fails with the status,
 * which names what happened; the global fetch followed it, sending the prompt to the new origin.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ModelCallError } from '../../daemon/src/conductor/models/modelProvider';
import { OpenAiProvider } from '../../daemon/src/conductor/models/openaiProvider';
import { startHttpApi, type HttpApi } from '../helpers/httpApi';

const KEY = 'sk-operator-7f3a9c1e5b2d';
let endpoint: HttpApi;
let elsewhere: HttpApi;

beforeAll(async () => {
  elsewhere = await startHttpApi({});
  endpoint = await startHttpApi({
    '/v1/chat/completions': (_req, res) =>
      res.writeHead(307, { location: `${elsewhere.url}/v1/chat/completions` }).end(),
  });
});

afterAll(async () => {
  await endpoint.stop();
  await elsewhere.stop();
});

it('follows no redirect of the model endpoint: nothing reaches the other origin', async () => {
  const provider = new OpenAiProvider({ baseUrl: `${endpoint.url}/v1`, apiKey: KEY });
  const asked = provider.complete(
    {
      model: 'm',
      messages: [{ role: 'user', content: 'Acme renews on 2027-01-31 at $48,000' }],
      maxOutputTokens: 50,
    },
    { stepId: 's', call: 1 },
    { signal: new AbortController().signal, timeoutMs: 5_000 },
  );
  await expect(asked).rejects.toThrow(ModelCallError);
  await expect(asked).rejects.toMatchObject({ outcome: 'http_307', retryable: false });
  await expect(asked).rejects.toThrow(
    `it redirects to ${elsewhere.url}; Keel follows no redirect: put the address it points to in models.endpoint.baseUrl`,
  );
  expect(endpoint.seen).toHaveLength(1);
  expect(endpoint.seen[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
  expect(elsewhere.seen).toEqual([]);
});
