// The official `@anthropic-ai/sdk` through the gateway's Messages API (baseURL is the gateway's
// root: the SDK appends /v1/messages), on two routes: a model whose upstream speaks chat
// completions only (the gateway translates) and one on an Anthropic upstream. Whole answers,
// streams, token counts, a tool_use round trip, errors, and the three ways a key arrives; and
// Anthropic's web search tool run by an OpenAI upstream's Responses API, its answer in Anthropic's
// blocks (what Claude Code's WebSearch tool reads).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { UPSTREAMS, startGateway, toolCallHeaders } from './harness.mjs';

const ROUTES = [
  { model: UPSTREAMS.chat.model, how: 'translated to chat' },
  { model: UPSTREAMS.anthropic.model, how: 'native Anthropic upstream' },
];

let gw;
let client;
// apiKey: since @anthropic-ai/sdk 1.0 sent as Authorization: Bearer; authToken likewise.
const clientWith = (auth) => new Anthropic({ baseURL: gw.root, maxRetries: 0, timeout: 10000, ...auth });
before(async () => {
  gw = await startGateway({ upstreams: [UPSTREAMS.chat, UPSTREAMS.anthropic, UPSTREAMS.responses] });
  client = clientWith({ apiKey: gw.key });
});
after(() => gw?.stop());

const weatherTool = {
  name: 'get_weather',
  description: 'The current weather in a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const hello = [{ role: 'user', content: 'Say something about trains.' }];
const question = [{ role: 'user', content: 'What is the weather in Paris?' }];

for (const { model, how } of ROUTES) {
  describe(`${model} (${how})`, () => {
    test('messages.create: text content and usage; max_tokens stops it', async () => {
      const message = await client.messages.create({ model, max_tokens: 5, system: 'Be brief.', messages: hello });
      assert.equal(message.type, 'message');
      assert.equal(message.role, 'assistant');
      assert.ok(message.id, 'the message has an id');
      assert.ok(message._request_id, 'the request id, read from request-id');
      assert.equal(message.content[0].type, 'text');
      assert.ok(message.content[0].text.length > 0, 'content[0].text is non-empty');
      assert.equal(message.stop_reason, 'max_tokens');
      assert.ok(message.usage.input_tokens > 0);
      assert.equal(message.usage.output_tokens, 5);
    });

    test("messages.stream: .on('text') and finalMessage()", async () => {
      const stream = client.messages.stream({ model, max_tokens: 64, messages: hello });
      let text = '';
      const types = [];
      stream.on('text', (delta) => { text += delta; });
      for await (const event of stream) types.push(event.type);
      const message = await stream.finalMessage();
      assert.equal(types[0], 'message_start');
      assert.equal(types.at(-1), 'message_stop');
      assert.ok(types.includes('content_block_start') && types.includes('content_block_delta'));
      assert.ok(types.includes('content_block_stop') && types.includes('message_delta'));
      assert.ok(text.length > 0, 'text arrived');
      assert.equal(message.content[0].type, 'text');
      assert.equal(message.content[0].text, text);
      assert.equal(message.stop_reason, 'end_turn', 'the whole completion: 8 tokens, under max_tokens 64');
      assert.ok(message.usage.input_tokens > 0);
      assert.equal(message.usage.output_tokens, 8);
    });

    test('messages.countTokens', async () => {
      const count = await client.messages.countTokens({ model, messages: hello });
      assert.equal(typeof count.input_tokens, 'number');
      assert.ok(count.input_tokens > 0);
    });

    test('tool_use: the call, then its tool_result sent back, then the answer', async () => {
      const messages = [...question];
      const first = await client.messages.create(
        { model, max_tokens: 256, messages, tools: [weatherTool] },
        { headers: toolCallHeaders('get_weather', { city: 'Paris' }) });
      assert.equal(first.stop_reason, 'tool_use');
      const use = first.content.find((block) => block.type === 'tool_use');
      assert.ok(use, `a tool_use block in ${JSON.stringify(first.content)}`);
      assert.equal(use.name, 'get_weather');
      assert.ok(use.id, 'the tool_use has an id');
      assert.deepEqual(use.input, { city: 'Paris' });

      messages.push({ role: 'assistant', content: first.content });
      messages.push({
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: use.id, content: JSON.stringify({ temperature_c: 21 }) }],
      });
      const second = await client.messages.create({ model, max_tokens: 256, messages, tools: [weatherTool] });
      assert.equal(second.stop_reason, 'end_turn');
      assert.equal(second.content[0].type, 'text');
      assert.ok(second.content[0].text.length > 0, 'an answer after the tool result');
      const upstreamBody = (await gw.simStats()).last_body;
      assert.ok(upstreamBody.includes('temperature_c'), `the tool result reached the upstream: ${upstreamBody}`);
      assert.ok(upstreamBody.includes(use.id), 'with its tool_use id');
    });

    test('tool_use, streamed: input_json deltas and the final tool_use block', async () => {
      const stream = client.messages.stream(
        { model, max_tokens: 256, messages: question, tools: [weatherTool] },
        { headers: toolCallHeaders('get_weather', { city: 'Oslo' }) });
      let json = '';
      stream.on('inputJson', (partial) => { json += partial; });
      const message = await stream.finalMessage();
      assert.equal(message.stop_reason, 'tool_use');
      const use = message.content.find((block) => block.type === 'tool_use');
      assert.ok(use, `a tool_use block in ${JSON.stringify(message.content)}`);
      assert.equal(use.name, 'get_weather');
      assert.deepEqual(use.input, { city: 'Oslo' });
      assert.deepEqual(JSON.parse(json), { city: 'Oslo' });
    });
  });
}

test('client.beta.messages (?beta=true, as Claude Code sends it)', async () => {
  const message = await client.beta.messages.create({ model: 'm', max_tokens: 64, messages: hello });
  assert.equal(message.type, 'message');
  assert.ok(message.content[0].text.length > 0);
});

test('the key as authToken (Authorization: Bearer) and as an x-api-key header', async () => {
  for (const auth of [
    { authToken: gw.key },
    { apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': gw.key } },
  ]) {
    const message = await clientWith(auth).messages.create({ model: 'm', max_tokens: 5, messages: hello });
    assert.equal(message.usage.output_tokens, 5, JSON.stringify(Object.keys(auth)));
  }
});

describe(`web_search on ${UPSTREAMS.responses.model} (OpenAI's web_search tool, through the Responses API)`, () => {
  // The upstream speaks chat and Responses; the search goes through Responses (chat has no web
  // search). switchyard-sim searches when the request offers OpenAI's tool and x-sim-web-search
  // names the query; its pages come back because the gateway asks for them with include.
  const search = { headers: { 'x-sim-web-search': 'trains in Oslo' } };
  const request = {
    model: UPSTREAMS.responses.model, max_tokens: 64,
    messages: [{ role: 'user', content: 'What runs in Oslo?' }],
    tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }],
  };
  // A whole answer's text is cut at the cited span (the lead-in apart); a stream's citation comes
  // after the text it cites (OpenAI sends it so), and covers the one text block.
  const checkBlocks = (message, { streamed = false } = {}) => {
    assert.deepEqual(message.content.map((block) => block.type),
      ['server_tool_use', 'web_search_tool_result', 'text', ...(streamed ? [] : ['text'])], JSON.stringify(message.content));
    const [use, result] = message.content;
    const lead = message.content[2];
    const cited = message.content.at(-1);
    assert.equal(use.name, 'web_search');
    assert.match(use.id, /^srvtoolu_/);
    assert.deepEqual(use.input, { query: 'trains in Oslo' });
    assert.equal(result.tool_use_id, use.id);
    assert.deepEqual(result.content.map((page) => [page.type, page.url]),
      [['web_search_result', 'https://search.example/1'], ['web_search_result', 'https://search.example/2']]);
    assert.ok(lead.text.startsWith('According to the search, '), lead.text);
    assert.ok(cited.text.length > (streamed ? 'According to the search, '.length : 0));
    assert.equal(cited.citations.length, 1);
    assert.equal(cited.citations[0].type, 'web_search_result_location');
    assert.equal(cited.citations[0].url, 'https://search.example/1');
    assert.equal(cited.citations[0].title, 'First result for trains in Oslo');
    assert.equal(message.usage.server_tool_use?.web_search_requests, 1);
  };

  test('messages.create: server_tool_use, web_search_tool_result with the pages, the cited text', async () => {
    const message = await client.messages.create(request, search);
    checkBlocks(message);
    // A whole answer titles the pages from the citations (OpenAI's sources have no titles).
    assert.equal(message.content[1].content[0].title, 'First result for trains in Oslo');
    assert.equal(message.stop_reason, 'end_turn');
  });

  test("messages.stream: the same blocks in finalMessage(), the citation as a 'citation' event", async () => {
    const stream = client.messages.stream(request, search);
    const citations = [];
    stream.on('citation', (citation) => citations.push(citation));
    const message = await stream.finalMessage();
    checkBlocks(message, { streamed: true });
    assert.deepEqual(citations, message.content[2].citations);
  });

  test('the next turn, with the search blocks sent back, is served', async () => {
    const first = await client.messages.create(request, search);
    const next = await client.messages.create({
      ...request,
      messages: [...request.messages, { role: 'assistant', content: first.content },
        { role: 'user', content: 'And in Bergen?' }],
    });
    assert.equal(next.content.at(-1).type, 'text');
  });
});

test("Anthropic's text editor tool to a chat-only upstream: a function there, its call a tool_use here", async () => {
  const tools = [{ type: 'text_editor_20250728', name: 'str_replace_based_edit_tool', max_characters: 10000 }];
  const input = { command: 'view', path: '/repo/a.py' };
  const message = await client.messages.create(
    { model: UPSTREAMS.chat.model, max_tokens: 256, messages: [{ role: 'user', content: 'Show me a.py' }], tools },
    { headers: toolCallHeaders('str_replace_based_edit_tool', input) });
  assert.equal(message.stop_reason, 'tool_use');
  const use = message.content.find((block) => block.type === 'tool_use');
  assert.equal(use?.name, 'str_replace_based_edit_tool', JSON.stringify(message.content));
  assert.deepEqual(use.input, input);
  // The upstream saw a function of that name with the editor's input schema.
  const upstream = JSON.parse((await gw.simStats()).last_body);
  const fn = upstream.tools[0].function;
  assert.equal(fn.name, 'str_replace_based_edit_tool');
  assert.deepEqual(fn.parameters.properties.command.enum, ['view', 'create', 'str_replace', 'insert']);
  assert.deepEqual(fn.parameters.required, ['command', 'path']);
});

test('an unknown model: NotFoundError (404, not_found_error)', async () => {
  await assert.rejects(
    client.messages.create({ model: 'n-typo', max_tokens: 5, messages: hello }),
    (err) => {
      assert.ok(err instanceof Anthropic.NotFoundError, `${err}`);
      assert.equal(err.status, 404);
      assert.equal(err.error?.type, 'error', `an Anthropic error body: ${JSON.stringify(err.error)}`);
      assert.equal(err.type, 'not_found_error');
      assert.match(err.apiMessage, /'n-typo'/);
      assert.match(err.requestID ?? '', /^[0-9a-f]{16,}$/, 'the request id, read from request-id');
      return true;
    });
});

test('a wrong key: AuthenticationError (401), whichever way it is sent', async () => {
  for (const auth of [
    { apiKey: 'sk-wrong' },
    { authToken: 'sk-wrong' },
    { apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': 'sk-wrong' } },
  ]) {
    await assert.rejects(
      clientWith(auth).messages.create({ model: 'm', max_tokens: 5, messages: hello }),
      (err) => {
        assert.ok(err instanceof Anthropic.AuthenticationError, `${JSON.stringify(Object.keys(auth))}: ${err}`);
        assert.equal(err.status, 401);
        assert.equal(err.type, 'authentication_error');
        assert.ok(!err.message.includes('sk-wrong'), 'the key is never repeated');
        return true;
      });
  }
});
