// What the consultation list and the exports show, through the service with the tiny model: the
// automatic title and the export file name drop a dangling "，", and the list counts the messages
// of the branch on screen, not of every regenerated or edited branch.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import type {Message} from '../../main/common/contract.js';
import {startServices, waitFor} from '../helpers/services.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

test('title and file name without dangling punctuation; the list counts the visible branch', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const model = await s.call('models.add', {path: await tinyModelPath()});
  const c = await s.call('consultations.create', {modelId: model.id});
  await s.call('consultations.update', {id: c.id, sampling: {maxTokens: 8, temperature: 0, seed: 7}});
  const finished = (id: string) =>
    waitFor(() => {
      const event = s.events.find((e) => e.type === 'chat.finished' && e.message.id === id);
      return event?.type === 'chat.finished' ? event.message : undefined;
    }, 60_000, `reply ${id}`) as Promise<Message>;

  const first = await s.call('chat.send', {consultationId: c.id, text: '我头痛三天了，\n还有点发热'});
  await finished(first.assistantMessage.id);
  const second = await s.call('chat.send', {consultationId: c.id, text: '前额疼'});
  await finished(second.assistantMessage.id);
  // three more versions of the last reply, and an edited first question with its own reply
  for (let i = 0; i < 3; i++) {
    const again = await s.call('chat.regenerate', {consultationId: c.id, messageId: second.assistantMessage.id});
    await finished(again.assistantMessage.id);
  }
  const edited = await s.call('chat.send', {consultationId: c.id, text: '我头痛四天了', parentId: null});
  await finished(edited.assistantMessage.id);

  const stored = await s.call('consultations.get', {id: c.id});
  assert.equal(stored.title, '我头痛三天了', 'named after the first question, without its dangling "，"');
  assert.equal(stored.messages.length, 9, 'every branch is kept');
  const [listed] = await s.call('consultations.list', {});
  assert.equal(listed?.messageCount, 2, 'the edited first question and its reply are what is on screen');
  await s.call('consultations.selectBranch', {id: c.id, messageId: second.assistantMessage.id});
  assert.equal((await s.call('consultations.list', {}))[0]?.messageCount, 4, 'two turns on screen: four messages, not nine');

  const markdown = await s.call('consultations.export', {id: c.id, format: 'markdown'});
  assert.match(markdown.fileName, /^我头痛三天了-\d{4}-\d{2}-\d{2}\.md$/);
  await s.call('consultations.update', {id: c.id, title: '王女士 头痛复诊，'});
  const json = await s.call('consultations.export', {id: c.id, format: 'json'});
  assert.match(json.fileName, /^王女士 头痛复诊-\d{4}-\d{2}-\d{2}\.json$/, 'a renamed title loses its trailing "，" in the file name');
});
