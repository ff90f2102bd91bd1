// The official `openai` SDK's Responses API through the gateway, on two routes: a model whose
// upstream speaks chat completions only (the gateway translates) and one whose upstream speaks
// Responses itself. Whole answers, streams, a function tool's round trip, errors. And OpenAI's
// web_search tool carried to an Anthropic upstream's web search server tool, whole and streamed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { UPSTREAMS, startGateway, toolCallHeaders } from './harness.mjs';

const ROUTES = [
  { model: UPSTREAMS.chat.model, how: 'translated to chat' },
  { model: UPSTREAMS.responses.model, how: 'native Responses upstream' },
];

let gw;
let client;
before(async () => {
  gw = await startGateway({ upstreams: [UPSTREAMS.chat, UPSTREAMS.responses, UPSTREAMS.anthropic] });
  client = new OpenAI({ baseURL: gw.openaiBase, apiKey: gw.key, maxRetries: 0, timeout: 10000 });
});
after(() => gw?.stop());

const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The current weather in a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};
const question = 'What is the weather in Paris?';

for (const { model, how } of ROUTES) {
  describe(`${model} (${how})`, () => {
    test('responses.create: output_text and usage', async () => {
      const response = await client.responses.create({
        model, instructions: 'Be brief.', input: 'Say something about trains.', store: false,
      });
      assert.equal(response.object, 'response');
      assert.equal(response.status, 'completed');
      assert.ok(response.id, 'the response has an id');
      assert.ok(response.output_text.length > 0, 'output_text is non-empty');
      const message = response.output.find((item) => item.type === 'message');
      assert.equal(message?.role, 'assistant');
      assert.equal(message.content[0].type, 'output_text');
      assert.ok(response.usage.input_tokens > 0);
      assert.equal(response.usage.output_tokens, 8);
      assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);
    });

    test('responses.stream: output_text.delta events and finalResponse()', async () => {
      const stream = client.responses.stream({ model, input: 'Say something about trains.', store: false });
      let deltas = '';
      const types = [];
      stream.on('response.output_text.delta', (event) => { deltas += event.delta; });
      for await (const event of stream) types.push(event.type);
      const response = await stream.finalResponse();
      assert.equal(types[0], 'response.created');
      assert.equal(types.at(-1), 'response.completed');
      assert.ok(types.includes('response.output_item.added'));
      assert.ok(types.includes('response.output_item.done'));
      assert.ok(deltas.length > 0, 'text arrived in deltas');
      assert.equal(response.status, 'completed');
      assert.equal(response.output_text, deltas);
      assert.ok(response.usage.input_tokens > 0);
      assert.equal(response.usage.output_tokens, 8);
    });

    test('a function tool: the call, then its output sent back, then the answer', async () => {
      const input = [{ role: 'user', content: question }];
      const first = await client.responses.create(
        { model, input, tools: [weatherTool], store: false },
        { headers: toolCallHeaders('get_weather', { city: 'Paris' }) });
      assert.equal(first.status, 'completed');
      const call = first.output.find((item) => item.type === 'function_call');
      assert.ok(call, `a function_call item in ${JSON.stringify(first.output)}`);
      assert.equal(call.name, 'get_weather');
      assert.ok(call.call_id, 'the call has a call_id');
      assert.equal(typeof call.arguments, 'string');
      assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });

      // As the SDK's docs do it: the output items back as input, then the tool's result.
      input.push(...first.output);
      input.push({ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temperature_c: 21 }) });
      const second = await client.responses.create({ model, input, tools: [weatherTool], store: false });
      assert.equal(second.status, 'completed');
      assert.ok(second.output_text.length > 0, 'an answer after the tool result');
      assert.ok(!second.output.some((item) => item.type === 'function_call'), 'no second call');
      const upstreamBody = (await gw.simStats()).last_body;
      assert.ok(upstreamBody.includes('temperature_c'), `the tool's output reached the upstream: ${upstreamBody}`);
      assert.ok(upstreamBody.includes(call.call_id), 'with its call id');
    });

    test('a function tool, streamed: output_item.done carries the whole call', async () => {
      const stream = client.responses.stream(
        { model, input: question, tools: [weatherTool], store: false },
        { headers: toolCallHeaders('get_weather', { city: 'Oslo' }) });
      let done = null;
      let argumentDeltas = '';
      for await (const event of stream) {
        if (event.type === 'response.output_item.done' && event.item.type === 'function_call') done = event.item;
        if (event.type === 'response.function_call_arguments.delta') argumentDeltas += event.delta;
      }
      const response = await stream.finalResponse();
      assert.ok(done, 'an output_item.done event with the function_call');
      assert.equal(done.name, 'get_weather');
      assert.ok(done.call_id);
      assert.deepEqual(JSON.parse(done.arguments), { city: 'Oslo' });
      assert.equal(argumentDeltas, done.arguments, 'the argument deltas add up to the arguments');
      assert.equal(response.status, 'completed');
      assert.equal(response.output.find((item) => item.type === 'function_call')?.call_id, done.call_id);
    });
  });
}

describe(`web_search on ${UPSTREAMS.anthropic.model} (Anthropic's web search server tool)`, () => {
  // switchyard-sim searches (Anthropic's blocks and events) when the request offers the tool and
  // x-sim-web-search names the query.
  const search = { headers: { 'x-sim-web-search': 'trains in Oslo' } };
  const request = {
    model: UPSTREAMS.anthropic.model, input: 'What runs in Oslo?', store: false,
    tools: [{ type: 'web_search', filters: { allowed_domains: ['search.example'] } }],
  };

  test('responses.create: a web_search_call with its query and pages, then the text with its citation', async () => {
    const response = await client.responses.create(request, search);
    assert.equal(response.status, 'completed');
    assert.deepEqual(response.output.map((item) => item.type), ['web_search_call', 'message']);
    const call = response.output[0];
    assert.equal(call.status, 'completed');
    assert.equal(call.action.type, 'search');
    assert.equal(call.action.query, 'trains in Oslo');
    assert.deepEqual(call.action.sources.map((s) => s.url), ['https://search.example/1', 'https://search.example/2']);
    const text = response.output[1].content[0];
    assert.ok(response.output_text.startsWith('According to the search, '), response.output_text);
    assert.equal(text.annotations.length, 1);
    const [citation] = text.annotations;
    assert.equal(citation.type, 'url_citation');
    assert.equal(citation.url, 'https://search.example/1');
    assert.equal(citation.title, 'First result for trains in Oslo');
    assert.equal(citation.start_index, 'According to the search, '.length);
    assert.equal(citation.end_index, response.output_text.length);
  });

  test('responses.stream: web_search_call events, then deltas and annotation.added', async () => {
    const stream = client.responses.stream(request, search);
    const types = [];
    let annotation = null;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.annotation.added') annotation = event.annotation;
    }
    const response = await stream.finalResponse();
    const order = ['response.output_item.added', 'response.web_search_call.in_progress',
      'response.web_search_call.searching', 'response.web_search_call.completed', 'response.output_item.done'];
    assert.deepEqual(types.slice(2, 7), order, types.join(' '));
    assert.ok(types.includes('response.output_text.annotation.added'), types.join(' '));
    assert.equal(annotation?.url, 'https://search.example/1');
    assert.equal(annotation.end_index, response.output_text.length);
    assert.equal(response.output[0].action.query, 'trains in Oslo');
    assert.deepEqual(response.output[1].content[0].annotations, [annotation]);
  });

  test('to a chat-only upstream: a 400 naming the tool', async () => {
    await assert.rejects(client.responses.create({ ...request, model: UPSTREAMS.chat.model }, search), (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `${err}`);
      assert.match(err.message, /web_search/);
      return true;
    });
  });
});

test('an unknown model: NotFoundError (404, model_not_found)', async () => {
  await assert.rejects(
    client.responses.create({ model: 'n-typo', input: 'Hi' }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `${err}`);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found', `${err.message}`);
      assert.match(err.message, /'n-typo'/);
      return true;
    });
});

test('a wrong key: AuthenticationError (401)', async () => {
  const wrong = new OpenAI({ baseURL: gw.openaiBase, apiKey: 'sk-wrong', maxRetries: 0, timeout: 10000 });
  await assert.rejects(wrong.responses.create({ model: 'm', input: 'Hi' }), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `${err}`);
    assert.equal(err.status, 401);
    return true;
  });
});
