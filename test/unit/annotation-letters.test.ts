// The letters of the ranking screens (renderer/src/lib/letters.ts): a letter names a screen
// position, so the key legend reads A–(K-th letter) for every K and every shuffle, and the last
// key of the legend is the letter of the answer shown last.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {LETTERS, candidateLetter, letterKeyRange, positionLetter} from '../../renderer/src/lib/letters.js';
import {mulberry32, shuffleInPlace} from '../../main/common/random.js';

test('the key legend reads A–B … A–H for K = 2…8, whatever order the answers are shown in', () => {
  const expected: Record<number, string> = {2: 'A–B', 3: 'A–C', 4: 'A–D', 5: 'A–E', 6: 'A–F', 7: 'A–G', 8: 'A–H'};
  for (let k = 2; k <= 8; k++) {
    const {first, last} = letterKeyRange(k);
    assert.equal(`${first}–${last}`, expected[k], `K = ${k}`);
    const identity = Array.from({length: k}, (_, i) => i);
    const random = mulberry32(k);
    const orders = [identity, [...identity].reverse(), ...identity.map((_, r) => [...identity.slice(r), ...identity.slice(0, r)]), ...Array.from({length: 20}, () => shuffleInPlace([...identity], random))];
    for (const shown of orders) {
      // what the annotator reads on screen: the answers' letters in display order are A, B, C…
      const onScreen = shown.map((candidate) => candidateLetter(candidate, shown)).join('');
      assert.equal(onScreen, LETTERS.slice(0, k), `K = ${k}, shown ${shown.join(',')}`);
      assert.equal(last, candidateLetter(shown.at(-1)!, shown), `K = ${k}, shown ${shown.join(',')}: the legend ends at the answer shown last`);
      assert.equal(first, candidateLetter(shown[0]!, shown), `K = ${k}, shown ${shown.join(',')}: the legend starts at the answer shown first`);
    }
  }
});

test('without a shuffle (adjudication) a candidate is named by its stored index', () => {
  assert.equal(candidateLetter(0, null), 'A');
  assert.equal(candidateLetter(7, null), 'H');
  assert.equal(positionLetter(3), 'D');
  assert.equal(candidateLetter(2, [2, 0, 1]), 'A');
  assert.equal(candidateLetter(9, [0, 1]), '10', 'a candidate not on screen falls back to its number');
});
