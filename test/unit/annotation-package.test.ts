import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, readdirSync} from 'node:fs';
import {join} from 'node:path';
import type {ItemAnnotation, RankItem} from '../../main/common/annotation.js';
import {rankingFromOrder} from '../../main/common/annotation.js';
import type {AnnotationPackage} from '../../main/node/annotation/package.js';
import {
  ANNOTATION_PACKAGE_VERSION,
  createPackage,
  itemContentHash,
  mergePackages,
  parsePackage,
  rankingsOf,
  writePackage,
} from '../../main/node/annotation/package.js';
import {tempDir} from '../helpers/tmp.js';

const item1: RankItem = {
  history: [{role: 'user', content: '孩子发烧38.5度'}, {role: 'assistant', content: '几岁了？精神状态如何？'}],
  question: '三岁，精神还可以。',
  candidates: ['可先物理降温，观察精神状态，超过三天或出现抽搐请就医。', '马上吃抗生素。', '多喝水。', '不用管。'],
  source: 'station-1',
  sourceId: 'a',
};
const item2: RankItem = {history: [], question: '高血压能喝酒吗？', candidates: ['不建议饮酒。', '少量没关系。']};
const item3: RankItem = {history: [], question: '布洛芬和对乙酰氨基酚能一起吃吗？', candidates: ['一般不建议同时服用。', '可以随便吃。', '我不清楚。']};

const at = (h: number): string => `2026-11-22T${String(h).padStart(2, '0')}:00:00.000Z`;
const ann = (annotatorId: string, order: number[], h: number, extra: Partial<ItemAnnotation> = {}): ItemAnnotation =>
  ({annotatorId, role: 'annotator', ranking: rankingFromOrder(order), allWrong: false, annotatedAt: at(h), ...extra});

// Two stations: both got item1 (from different sources — still one item), doc-a re-ranked it on B later.
const a = createPackage(
  [{item: item1, annotations: [ann('doc-a', [0, 2, 3, 1], 1)]}, {item: item2, annotations: [ann('doc-a', [0, 1], 2)]}],
  [{id: 'doc-a', name: '张医生'}],
  at(3),
);
const b = createPackage(
  [
    {item: {...item1, source: 'station-2', sourceId: 'z'}, annotations: [ann('doc-a', [0, 3, 2, 1], 5), ann('doc-b', [0, 2, 1, 3], 4)]},
    {item: item3, annotations: [ann('doc-b', [0, 2, 1], 4, {allWrong: false})]},
  ],
  [{id: 'doc-b'}],
  at(6),
);

const content = (p: AnnotationPackage) => ({
  items: p.items.map((i) => i.hash).sort(),
  rankings: p.rankings.map((r) => JSON.stringify(r)).sort(),
  annotators: p.annotators.map((x) => JSON.stringify(x)).sort(),
});

test('item identity is the content hash of (history, question, candidates)', () => {
  assert.equal(itemContentHash(item1), itemContentHash({...item1, source: 'elsewhere', sourceId: '9'} as RankItem));
  assert.notEqual(itemContentHash(item1), itemContentHash({...item1, candidates: [...item1.candidates].reverse()}), 'candidate order matters: rankings use indices');
  assert.notEqual(itemContentHash(item1), itemContentHash({...item1, history: []}));
  assert.notEqual(itemContentHash(item2), itemContentHash({...item2, question: item2.question + ' '}));
  assert.match(itemContentHash(item2), /^[0-9a-f]{64}$/);
});

test('merge: union by item hash and (item, annotator), newest ranking kept', () => {
  const m = mergePackages(a, b);
  assert.equal(m.items.length, 3);
  assert.equal(m.items[0]!.source, 'station-1', "the first package's metadata is kept");
  assert.equal(m.rankings.length, 4); // (1,doc-a) (2,doc-a) (1,doc-b) (3,doc-b)
  const h1 = itemContentHash(item1);
  const onItem1 = rankingsOf(m, h1);
  assert.deepEqual(onItem1.map((r) => [r.annotatorId, r.annotatedAt]), [['doc-a', at(5)], ['doc-b', at(4)]]);
  assert.deepEqual(onItem1[0]!.ranking, rankingFromOrder([0, 3, 2, 1]));
  assert.deepEqual(m.annotators, [{id: 'doc-a', name: '张医生'}, {id: 'doc-b'}]);
  assert.equal(m.createdAt, at(6));
});

test('merge is idempotent, and commutative up to order', () => {
  const m = mergePackages(a, b);
  assert.deepEqual(mergePackages(a, a), a);
  assert.deepEqual(mergePackages(m, b), m);
  assert.deepEqual(mergePackages(m, a), m);
  assert.deepEqual(mergePackages(m, m), m);
  assert.deepEqual(mergePackages(mergePackages(m, a), b), m);
  assert.deepEqual(content(mergePackages(b, a)), content(m));
  // an older ranking arriving later does not win
  const stale = createPackage([{item: item1, annotations: [ann('doc-a', [3, 2, 1, 0], 0)]}], [], at(0));
  assert.deepEqual(content(mergePackages(m, stale)).rankings, content(m).rankings);
  // equal timestamps, different rankings: the same one wins whichever side it comes from
  const x = createPackage([{item: item2, annotations: [ann('doc-c', [0, 1], 7)]}], [], at(7));
  const y = createPackage([{item: item2, annotations: [ann('doc-c', [1, 0], 7)]}], [], at(7));
  assert.deepEqual(mergePackages(x, y).rankings, mergePackages(y, x).rankings);
  // the inputs are not modified
  assert.equal(a.rankings.length, 2);
});

test('createPackage collapses duplicates within one package', () => {
  const p = createPackage([
    {item: item2, annotations: [ann('doc-a', [0, 1], 1)]},
    {item: item2, annotations: [ann('doc-a', [1, 0], 2)]},
  ]);
  assert.equal(p.items.length, 1);
  assert.equal(p.rankings.length, 1);
  assert.deepEqual(p.rankings[0]!.ranking, [[1], [0]]);
  assert.deepEqual(p.annotators, [{id: 'doc-a'}]);
});

test('write → parse round-trips; corrupt, newer or inconsistent packages are refused', async () => {
  const dir = tempDir();
  try {
    const m = mergePackages(a, b);
    const path = join(dir.path, 'station.zjann.json');
    await writePackage(path, m);
    assert.deepEqual(readdirSync(dir.path), ['station.zjann.json']);
    const json = readFileSync(path, 'utf8');
    assert.deepEqual(parsePackage(json), m);

    const edit = (f: (p: any) => void): string => {
      const p = JSON.parse(json);
      f(p);
      return JSON.stringify(p);
    };
    assert.throws(() => parsePackage(edit((p) => (p.version = ANNOTATION_PACKAGE_VERSION + 1))), /newer Zhongjing/);
    assert.throws(() => parsePackage(edit((p) => (p.format = 'other'))), /not a Zhongjing annotation package/);
    assert.throws(() => parsePackage(edit((p) => (p.items[0].candidates[1] = '改过的回答'))), /does not match its hash/);
    assert.throws(() => parsePackage(edit((p) => (p.rankings[0].ranking = [[0], [1], [2], [7]]))), /out of range/);
    assert.throws(() => parsePackage(edit((p) => (p.rankings[0].itemHash = 'f'.repeat(64)))), /unknown item/);
    assert.throws(() => parsePackage(edit((p) => (p.rankings[0].annotatedAt = 'yesterday'))), /ISO/);
    assert.throws(() => parsePackage(edit((p) => (p.rankings[0].marks = [{accuracy: 4}]))), /invalid annotation package/);
    assert.throws(() => parsePackage(edit((p) => (p.rankings[0].marks = [{accuracy: 3}]))), /marks for 1 of 4/);
    assert.doesNotThrow(() => parsePackage(edit((p) => (p.rankings[0].marks = [{accuracy: 3}, {}, {warmth: 1}, {safety: 2}]))));
  } finally {
    dir.cleanup();
  }
});
