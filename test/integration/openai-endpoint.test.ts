// The OpenAI-compatible endpoint of `zhongjing serve`, driven by the official `openai` npm client as
// a real outside client would: the models list, a whole answer, a streamed one, and errors in
// OpenAI's shape (wrong key 401, unknown model 404, a conversation not ending with the user 400).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {startServe} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

test('the openai client lists models, gets a whole and a streamed answer, and clear errors', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const serve = await startServe(['--data-dir', dir.path, '--model', await tinyModelPath()]);
  t.after(() => serve.stop());
  const client = new OpenAI({baseURL: `${serve.base}/v1`, apiKey: serve.token, maxRetries: 0});

  const models = await client.models.list();
  assert.equal(models.data.length, 1, 'the registered base model');
  const model = models.data[0]!.id;

  const messages = [{role: 'system' as const, content: '你是一位医生。'}, {role: 'user' as const, content: '我头痛三天了'}];
  const whole = await client.chat.completions.create({model, messages, max_tokens: 16, temperature: 0, seed: 1});
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0]!.message.role, 'assistant');
  assert.ok(whole.choices[0]!.message.content && whole.choices[0]!.message.content.length > 0, 'an answer');
  assert.ok(['stop', 'length'].includes(whole.choices[0]!.finish_reason));
  assert.ok(whole.usage && whole.usage.completion_tokens > 0 && whole.usage.prompt_tokens > 0, 'usage');

  const stream = await client.chat.completions.create({model: 'default', messages, max_tokens: 16, temperature: 0, seed: 1, stream: true});
  let text = '';
  let chunks = 0;
  let finish: string | null = null;
  const named = new Set<string>();
  for await (const chunk of stream) {
    chunks++;
    named.add(chunk.model);
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  t.diagnostic(`whole: ${JSON.stringify(whole.choices[0]!.message.content)}; streamed in ${chunks} chunks: ${JSON.stringify(text)}`);
  assert.equal(text, whole.choices[0]!.message.content, 'the same greedy answer, streamed');
  assert.ok(chunks >= 2, 'more than one chunk');
  assert.deepEqual([...named], [whole.model], 'every chunk names the model, the first ones too');
  assert.ok(finish === 'stop' || finish === 'length', 'a final chunk with the finish reason');

  const wrongKey = new OpenAI({baseURL: `${serve.base}/v1`, apiKey: 'x'.repeat(48), maxRetries: 0});
  await assert.rejects(wrongKey.models.list(), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 401);
  await assert.rejects(client.chat.completions.create({model: 'no-such-model', messages}), (e: InstanceType<typeof OpenAI.APIError>) => {
    assert.equal(e.status, 404);
    assert.match(e.message, /does not exist here/);
    return true;
  });
  await assert.rejects(client.chat.completions.create({model, messages: [{role: 'assistant', content: '你好'}]}), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400);
});
