// Moving the keyboard through the ability marks on screen. Each mark row is an element with
// `data-mark-row` (and `data-candidate`, `data-marked`), in the order the answers are shown and,
// within an answer, in the rubric's priority order; focus lands on the row's checked radio, or
// its first one, as Tab would.

function rows(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>('[data-mark-row]')];
}

function focusRow(row: HTMLElement): void {
  (row.querySelector<HTMLInputElement>('input:checked') ?? row.querySelector<HTMLInputElement>('input'))?.focus();
}

/** The next row still to mark after `from` (wrapping round); with none left, the ranking's first
 * handle, where Enter saves. */
export function focusNextMark(from: HTMLElement | null): void {
  const all = rows();
  const start = from ? all.indexOf(from) : -1;
  const ordered = [...all.slice(start + 1), ...all.slice(0, Math.max(0, start + 1))];
  const next = ordered.find((row) => row.dataset.marked !== 'true');
  if (next) focusRow(next);
  else document.querySelector<HTMLElement>('[data-handle]')?.focus();
}

/** The first row of one answer still to mark (else its first row). */
export function focusAnswerMarks(candidate: number): boolean {
  const mine = rows().filter((row) => row.dataset.candidate === String(candidate));
  const target = mine.find((row) => row.dataset.marked !== 'true') ?? mine[0];
  if (target) focusRow(target);
  return target !== undefined;
}
