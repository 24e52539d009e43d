// Letters of the ranking screens, apart from any state so they can be read (and tested) alone.
// A letter names a SCREEN POSITION: A is the answer shown first. While an annotator sees an item
// in their own shuffled order, candidate i's letter is the position at which i is shown; the
// keys A… and the legend that explains them are about positions, never about candidate indices.

export const LETTERS = 'ABCDEFGH';

/** The letter of a screen position (0 → A); K is at most 8 in a project. */
export const positionLetter = (position: number): string => LETTERS[position] ?? String(position + 1);

/** The letter of a candidate: its position in `shown` (the order on screen) when there is one,
 * else its stored index (the adjudication queue shows candidates in stored order). */
export function candidateLetter(index: number, shown: readonly number[] | null): string {
  const position = shown ? shown.indexOf(index) : index;
  return LETTERS[position] ?? String(index + 1);
}

/** The letter keys the legend lists for K answers: the first and the last screen position
 * ("A–D" for K = 4), whatever order the answers are shown in. */
export const letterKeyRange = (k: number): {first: string; last: string} => ({first: positionLetter(0), last: positionLetter(k - 1)});
