// Two windows of one annotator on one item: the second save, based on what its screen showed,
// is refused instead of silently replacing the first; saving again replaces it on purpose.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {importPairs, startServices} from '../helpers/services.js';

test('a save based on an older view is a conflict; a save based on the newer one goes through', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const projectId = await importPairs(s, [{question: '孕妇能吃布洛芬吗？', response_chosen: '孕晚期禁用。', response_rejected: '随便吃。'}]);
  const itemId = s.services.store.annotation.items(projectId)[0]!.id;
  const who = await s.call('annotators.create', {name: '李医生', role: 'annotator'});

  // both windows open the item before anything is saved: basedOn null
  const first = await s.call('annotation.save', {itemId, annotatorId: who.id, ranking: [[0], [1]], basedOn: null});
  const refused = await s.callRaw('annotation.save', {itemId, annotatorId: who.id, ranking: [[1], [0]], basedOn: null});
  assert.ok(!refused.ok && refused.error.code === 'conflict', JSON.stringify(refused));
  assert.match(refused.error.message.zh, /已在另一个窗口中保存过/);
  assert.deepEqual(s.services.store.annotation.ranking(itemId, who.id, 'ranking')?.ranking, [[0], [1]], 'the first save stands');

  // the second window, told, saves again based on what is stored now
  await s.call('annotation.save', {itemId, annotatorId: who.id, ranking: [[1], [0]], basedOn: first.savedAt});
  assert.deepEqual(s.services.store.annotation.ranking(itemId, who.id, 'ranking')?.ranking, [[1], [0]]);
  // callers that do not say what they are based on (the CLI, older pages) save as before
  await s.call('annotation.save', {itemId, annotatorId: who.id, ranking: [[0], [1]]});
  assert.deepEqual(s.services.store.annotation.ranking(itemId, who.id, 'ranking')?.ranking, [[0], [1]]);
});
