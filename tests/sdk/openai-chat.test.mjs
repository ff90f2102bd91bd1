// The official `openai` SDK's chat completions through the gateway: whole answers, streams with
// usage, the errors it raises from the gateway's own error bodies, and web_search_options answered
// by Anthropic's web search with the citations as the message's annotations.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startGateway, UPSTREAMS } from './harness.mjs';

let gw;
let client;
before(async () => {
  gw = await startGateway({ upstreams: [UPSTREAMS.chat, UPSTREAMS.anthropic] });
  client = new OpenAI({ baseURL: gw.openaiBase, apiKey: gw.key, maxRetries: 0, timeout: 10000 });
});
after(() => gw?.stop());

const messages = [{ role: 'user', content: 'Say something about trains.' }];

test('create: a whole answer with its usage', async () => {
  const completion = await client.chat.completions.create({ model: 'm', messages, max_tokens: 5 });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.choices.length, 1);
  const choice = completion.choices[0];
  assert.equal(choice.message.role, 'assistant');
  assert.ok(choice.message.content.length > 0, 'content is non-empty');
  assert.equal(choice.finish_reason, 'length');
  assert.equal(completion.usage.completion_tokens, 5);
  assert.ok(completion.usage.prompt_tokens > 0);
  assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + 5);
});

test('create with stream: true: chunks, then one usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: 'm', messages, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let finish = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    assert.equal(chunk.object, 'chat.completion.chunk');
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      finish = c.finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 8, `got ${chunks} chunks`);
  assert.ok(text.length > 0);
  assert.equal(finish, 'stop', 'the whole completion: 8 tokens, under no max_tokens');
  assert.ok(usage, 'a usage chunk arrived');
  assert.equal(usage.completion_tokens, 8);
  assert.ok(usage.prompt_tokens > 0);
});

test('chat.completions.stream: content events and the final completion', async () => {
  const stream = client.chat.completions.stream({
    model: 'm', messages, max_tokens: 4, stream_options: { include_usage: true },
  });
  let deltas = '';
  stream.on('content', (delta) => { deltas += delta; });
  const completion = await stream.finalChatCompletion();
  assert.ok(deltas.length > 0);
  assert.equal(completion.choices[0].message.content, deltas);
  assert.equal(completion.choices[0].finish_reason, 'length');
  assert.equal(completion.usage?.completion_tokens, 4);
});

test('an unknown model: NotFoundError (404) with the gateway\'s message', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'n-typo', messages }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `${err}`);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.type, 'invalid_request_error');
      assert.match(err.message, /The model 'n-typo' does not exist or is not served here/);
      assert.match(err.message, /Available models: m\b/);
      assert.ok(err.requestID, 'x-request-id is read as the request id');
      return true;
    });
});

test('a wrong key: AuthenticationError (401)', async () => {
  const wrong = new OpenAI({ baseURL: gw.openaiBase, apiKey: 'sk-wrong', maxRetries: 0, timeout: 10000 });
  await assert.rejects(
    wrong.chat.completions.create({ model: 'm', messages }),
    (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `${err}`);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'invalid_api_key');
      assert.ok(!err.message.includes('sk-wrong'), 'the key is never repeated');
      return true;
    });
});

describe(`web_search_options on ${UPSTREAMS.anthropic.model} (Anthropic's web search server tool)`, () => {
  // switchyard-sim searches when the request offers Anthropic's tool and x-sim-web-search names the
  // query; its answer cites the first page in a text block of its own.
  const search = { headers: { 'x-sim-web-search': 'trams in Lisbon' } };
  const request = {
    model: UPSTREAMS.anthropic.model, max_tokens: 64,
    messages: [{ role: 'user', content: 'What runs in Lisbon?' }],
    web_search_options: { search_context_size: 'low', user_location: { type: 'approximate', approximate: { country: 'PT' } } },
  };
  const checkCitation = (content, annotation) => {
    assert.equal(annotation.type, 'url_citation');
    const { url, title, start_index: start, end_index: end } = annotation.url_citation;
    assert.equal(url, 'https://search.example/1');
    assert.equal(title, 'First result for trams in Lisbon');
    assert.equal(start, 'According to the search, '.length);
    assert.ok(end > start && end <= [...content].length, `${start}..${end} of ${content}`);
  };

  test('create: the text, its citation as an annotation over the cited characters', async () => {
    const completion = await client.chat.completions.create(request, search);
    const { message } = completion.choices[0];
    assert.ok(message.content.startsWith('According to the search, '), message.content);
    assert.equal(message.annotations?.length, 1, JSON.stringify(message));
    checkCitation(message.content, message.annotations[0]);
    assert.equal(completion.choices[0].finish_reason, 'stop');
  });

  test('create with stream: true: the annotation in a chunk of its own after the text it cites', async () => {
    const stream = await client.chat.completions.create({ ...request, stream: true }, search);
    let content = '';
    const annotations = [];
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        content += c.delta?.content ?? '';
        annotations.push(...(c.delta?.annotations ?? []));
      }
    }
    assert.equal(annotations.length, 1, content);
    checkCitation(content, annotations[0]);
  });
});
