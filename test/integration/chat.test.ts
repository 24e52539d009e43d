// Consultations with real node-llama-cpp inference on the generated tiny model, in a real engine
// process, through the same dispatch both transports use.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {copyFileSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import type {Message} from '../../main/common/contract.js';
import {threadTo} from '../../main/common/thread.js';
import {replyHold} from '../helpers/hold.js';
import {startServices, waitFor} from '../helpers/services.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

// the engines forked by this file honour the test hold: a reply that a test stops or kills is
// held once it has text, so it cannot finish first
const holdDir = tempDir();
const hold = replyHold(holdDir.path);
Object.assign(process.env, hold.env);
test.after(() => holdDir.cleanup());

type Harness = ReturnType<typeof startServices>;

async function finished(s: Harness, messageId: string): Promise<Message> {
  return waitFor(
    () => {
      const event = s.events.find((e) => e.type === 'chat.finished' && e.message.id === messageId);
      return event?.type === 'chat.finished' ? event.message : undefined;
    },
    60_000,
    `reply ${messageId}`,
  );
}

async function setUp(maxTokens = 24) {
  const s = startServices();
  const model = await s.call('models.add', {path: await tinyModelPath()});
  const c = await s.call('consultations.create', {modelId: model.id});
  await s.call('consultations.update', {id: c.id, sampling: {maxTokens, temperature: 0, seed: 7}});
  return {s, model, c};
}

test('a Chinese turn streams, is saved, and the stored reply equals the streamed text', async () => {
  const {s, c} = await setUp();
  try {
    const {userMessage, assistantMessage} = await s.call('chat.send', {consultationId: c.id, text: '我头痛三天了，还有点发热。'});
    assert.equal(userMessage.content, '我头痛三天了，还有点发热。');
    assert.equal(assistantMessage.status, 'streaming');
    const reply = await finished(s, assistantMessage.id);
    const streamed = s.events
      .filter((e) => e.type === 'chat.delta' && e.messageId === assistantMessage.id)
      .map((e) => (e.type === 'chat.delta' ? e.delta : ''))
      .join('');
    assert.equal(reply.status, 'complete');
    assert.ok(reply.content.length > 0);
    assert.equal(streamed, reply.content);
    assert.ok((reply.meta.completionTokens ?? 0) > 0 && (reply.meta.completionTokens ?? 0) <= 24);
    assert.equal(reply.meta.seed, 7);

    const stored = await s.call('consultations.get', {id: c.id});
    assert.equal(stored.title, '我头痛三天了，还有点发热', 'an untitled consultation is named after its first question (its closing 。 dropped)');
    assert.deepEqual(threadTo(stored.messages, stored.currentLeafId).map((m) => m.role), ['user', 'assistant']);
    assert.equal(stored.messages.find((m) => m.id === assistantMessage.id)?.content, reply.content);

    // greedy decoding with a fixed seed is reproducible: regenerate gives the same text as a sibling
    const {assistantMessage: again} = await s.call('chat.regenerate', {consultationId: c.id, messageId: assistantMessage.id});
    const second = await finished(s, again.id);
    assert.equal(second.parentId, userMessage.id);
    assert.equal(second.content, reply.content);
    const afterRegenerate = await s.call('consultations.get', {id: c.id});
    assert.equal(afterRegenerate.currentLeafId, again.id);
    assert.equal(afterRegenerate.messages.filter((m) => m.parentId === userMessage.id).length, 2);

    // multi-turn: the second turn answers with the whole thread as context
    const turn2 = await s.call('chat.send', {consultationId: c.id, text: '体温38.5度，没有咳嗽。'});
    const reply2 = await finished(s, turn2.assistantMessage.id);
    assert.equal(reply2.status, 'complete');
    assert.ok((reply2.meta.promptTokens ?? 0) > (reply.meta.promptTokens ?? 0));
  } finally {
    await s.close();
  }
});

test('editing an earlier user turn keeps the old branch as a sibling that can be selected again', async () => {
  const {s, c} = await setUp(8);
  try {
    const first = await s.call('chat.send', {consultationId: c.id, text: '我咳嗽两周了'});
    await finished(s, first.assistantMessage.id);
    const second = await s.call('chat.send', {consultationId: c.id, text: '有痰，黄色'});
    await finished(s, second.assistantMessage.id);

    // edit the second user turn: same parent as the original
    const edited = await s.call('chat.send', {consultationId: c.id, text: '有痰，白色', parentId: second.userMessage.parentId});
    await finished(s, edited.assistantMessage.id);
    let state = await s.call('consultations.get', {id: c.id});
    assert.deepEqual(threadTo(state.messages, state.currentLeafId).map((m) => m.content.slice(0, 5)).filter((_, i) => i % 2 === 0), ['我咳嗽两周', '有痰，白色']);

    // switch back to the original branch: lands on its newest leaf
    state = await s.call('consultations.selectBranch', {id: c.id, messageId: second.userMessage.id});
    assert.equal(state.currentLeafId, second.assistantMessage.id);
    assert.equal(threadTo(state.messages, state.currentLeafId)[2]?.content, '有痰，黄色');

    const badParent = await s.callRaw('chat.send', {consultationId: c.id, text: 'x', parentId: second.userMessage.id});
    assert.equal(!badParent.ok && badParent.error.code, 'validation');
  } finally {
    await s.close();
  }
});

test('stop ends a reply early and keeps what was generated', async () => {
  const {s, c} = await setUp(4000);
  hold.hold();
  try {
    const {assistantMessage} = await s.call('chat.send', {consultationId: c.id, text: '请详细介绍高血压的治疗'});
    await waitFor(() => s.events.some((e) => e.type === 'chat.delta' && e.messageId === assistantMessage.id), 30_000, 'first delta');
    const busy = await s.callRaw('chat.send', {consultationId: c.id, text: '再问一句'});
    assert.equal(!busy.ok && busy.error.code, 'busy');
    assert.deepEqual(await s.call('chat.stop', {consultationId: c.id}), {stopped: true});
    const reply = await finished(s, assistantMessage.id);
    assert.equal(reply.status, 'stopped');
    assert.equal(reply.meta.stopReason, 'abort');
    assert.ok(reply.content.trim().length > 0, 'the partial reply is kept');
    assert.ok((reply.meta.completionTokens ?? 0) < 4000);
  } finally {
    hold.release();
    await s.close();
  }
});

test('a killed engine fails only the reply; the next message restarts it', async () => {
  const {s, c} = await setUp(4000);
  hold.hold();
  try {
    const {assistantMessage} = await s.call('chat.send', {consultationId: c.id, text: '腹痛怎么办'});
    await waitFor(() => s.events.some((e) => e.type === 'chat.delta' && e.messageId === assistantMessage.id), 30_000, 'first delta');
    const {pid} = await s.call('engine.status', {});
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    const reply = await finished(s, assistantMessage.id);
    assert.equal(reply.status, 'error');
    assert.equal(reply.meta.error?.code, 'engine_crashed');
    assert.match(reply.meta.error?.message.zh ?? '', /推理进程意外退出/);
    const crashed = await s.call('engine.status', {});
    assert.equal(crashed.state, 'crashed');
    hold.release();

    await s.call('consultations.update', {id: c.id, sampling: {maxTokens: 8}});
    const next = await s.call('chat.send', {consultationId: c.id, text: '还在吗？', parentId: assistantMessage.id});
    assert.equal((await finished(s, next.assistantMessage.id)).status, 'complete');
    const status = await s.call('engine.status', {});
    assert.equal(status.state, 'ready');
    assert.equal(status.restarts, 1);
    assert.notEqual(status.pid, pid);
  } finally {
    hold.release();
    await s.close();
  }
});

test('a model file deleted while registered gives a clear error and loses the typed text nowhere', async () => {
  const s = startServices();
  try {
    const copy = join(s.dataDir, 'copy.gguf');
    copyFileSync(await tinyModelPath(), copy);
    const model = await s.call('models.add', {path: copy});
    const c = await s.call('consultations.create', {modelId: model.id});
    rmSync(copy);
    assert.equal((await s.call('models.list', {}))[0]?.missing, true);
    const envelope = await s.callRaw('chat.send', {consultationId: c.id, text: '胸闷气短'});
    assert.equal(!envelope.ok && envelope.error.code, 'model_missing');
    assert.match(!envelope.ok ? envelope.error.message.zh : '', /模型文件已不存在/);
  } finally {
    await s.close();
  }
});

test('a conversation longer than the context is trimmed with a note; one huge message is a clear error', async () => {
  const {s, c} = await setUp(16);
  try {
    // a long history written straight into the store: 12 exchanges of ~600 characters each
    const repo = s.services.store.consultations;
    let parent: string | null = null;
    for (let i = 0; i < 12; i++) {
      parent = repo.addMessage(c.id, {parentId: parent, role: 'user', content: `第${i}次：${'头痛发热咳嗽'.repeat(100)}`, status: 'complete'}).id;
      parent = repo.addMessage(c.id, {parentId: parent, role: 'assistant', content: '请问还有其他症状吗？'.repeat(10), status: 'complete'}).id;
    }
    const {assistantMessage} = await s.call('chat.send', {consultationId: c.id, text: '现在怎么办？'});
    const reply = await finished(s, assistantMessage.id);
    assert.equal(reply.status, 'complete');
    assert.ok((reply.meta.trimmedTurns ?? 0) >= 2, `trimmed ${reply.meta.trimmedTurns}`);

    const huge = await s.call('chat.send', {consultationId: c.id, text: '痛'.repeat(20_000)});
    const failed = await finished(s, huge.assistantMessage.id);
    assert.equal(failed.status, 'error');
    assert.equal(failed.meta.error?.code, 'context_overflow');
    // the person's message itself is kept
    const stored = await s.call('consultations.get', {id: c.id});
    assert.equal(stored.messages.find((m) => m.id === huge.userMessage.id)?.content.length, 20_000);
  } finally {
    await s.close();
  }
});
