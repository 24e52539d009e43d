// Structural checks every imported (or edited) row must pass, whatever format it came from.
// Returns the first problem as a zh + en reason, or null. Turns are never trimmed or repaired
// here: a row is taken as it is or rejected with a reason. (The importer drops a dialogue's
// trailing user turns before it asks: importer.ts, withoutTrailingUserTurns.)
//
//   dialogue / safety: [system] user assistant user assistant … ending with assistant
//   preference:        [system] user assistant … user, plus non-empty chosen and rejected
//   text:              a non-empty text, no turns
//   choice (dialogue only): a non-empty question, 1–26 options with distinct letters A–Z and
//                      non-empty text, answer letters upper-case, unique, sorted and among them
//   askEachTurn:       dialogue or safety only

import type {ChoiceQuestion, DatasetRow, Turn} from '../../common/datasets.js';
import type {LocalisedText} from '../../common/errors.js';
import {LIMITS, reasons} from './reasons.js';

// a lone UTF-16 surrogate (from a "\ud83d" escape without its pair) is not text
const LONE_SURROGATE = /\p{Cs}/u;

function checkText(label: string, text: string, limit: number): LocalisedText | null {
  if (text.trim() === '') return reasons.emptyField(label);
  if (text.length > limit) return reasons.fieldTooLong(label, text.length, limit);
  if (LONE_SURROGATE.test(text)) return reasons.loneSurrogate(label);
  return null;
}

function checkTurns(turns: Turn[], endsWith: 'assistant' | 'user'): LocalisedText | null {
  if (turns.length === 0) return reasons.emptyDialogue();
  if (turns.length > LIMITS.turns) return reasons.tooManyTurns(turns.length);
  let expected: Turn['role'] = 'user';
  for (let i = 0; i < turns.length; i++) {
    const turn = turns[i]!;
    if (turn.content.trim() === '') return reasons.emptyTurn(i, turn.role);
    if (turn.content.length > LIMITS.turnChars) return reasons.turnTooLong(i, turn.content.length);
    if (LONE_SURROGATE.test(turn.content)) return reasons.turnLoneSurrogate(i);
    if (turn.role === 'system') {
      if (i !== 0) return reasons.systemNotFirst(i);
      continue;
    }
    if (turn.role !== expected) return reasons.rolesNotAlternating(i, expected, turn.role);
    expected = expected === 'user' ? 'assistant' : 'user';
  }
  const last = turns[turns.length - 1]!.role;
  if (last === 'system') return reasons.emptyDialogue();
  if (last !== endsWith) return endsWith === 'assistant' ? reasons.mustEndWithAssistant() : reasons.promptMustEndWithUser();
  return null;
}

function checkMeta(row: DatasetRow): LocalisedText | null {
  const fields = [
    ['department', row.department, LIMITS.department],
    ['subDepartment', row.subDepartment, LIMITS.department],
    ['source', row.source, LIMITS.source],
    ['sourceId', row.sourceId, LIMITS.sourceId],
  ] as const;
  for (const [name, value, limit] of fields) if (value !== undefined && value.length > limit) return reasons.fieldTooLong(name, value.length, limit);
  if (row.tags) {
    if (row.tags.length > LIMITS.tags) return reasons.fieldTooLong('tags', row.tags.length, LIMITS.tags);
    for (const tag of row.tags) if (tag.length > LIMITS.tag) return reasons.fieldTooLong('tag', tag.length, LIMITS.tag);
  }
  return null;
}

/** A multiple-choice item must be scoreable: an evaluation compares letters with `answer`, so a
 * letter that names no option (or a question without options) could only ever be marked wrong. */
export function checkChoice(choice: ChoiceQuestion): LocalisedText | null {
  const problem = checkText('question', choice.question, LIMITS.turnChars);
  if (problem) return problem;
  if (choice.options.length === 0) return reasons.noOptions();
  if (choice.options.length > 26) return reasons.tooManyOptions(choice.options.length);
  const letters: string[] = [];
  for (const option of choice.options) {
    if (!/^[A-Z]$/.test(option.letter)) return reasons.badOptionLetter(option.letter);
    if (letters.includes(option.letter)) return reasons.duplicateOptionLetter(option.letter);
    letters.push(option.letter);
    if (option.text.trim() === '') return reasons.emptyOption(option.letter);
    const text = checkText(`option ${option.letter}`, option.text, LIMITS.turnChars);
    if (text) return text;
  }
  if (choice.answer.length === 0) return reasons.emptyField('answer');
  const missing = choice.answer.filter((letter) => !letters.includes(letter));
  if (missing.length > 0) return reasons.answerNotInOptions(missing, letters);
  // the stored form is canonical, so two rows with the same answer hash the same
  if (choice.answer.join() !== [...new Set(choice.answer)].sort().join()) return reasons.answerNotNormalised();
  return null;
}

export function rowChars(row: DatasetRow): number {
  let n = (row.chosen?.length ?? 0) + (row.rejected?.length ?? 0) + (row.text?.length ?? 0);
  for (const t of row.turns) n += t.content.length;
  return n;
}

export function validateRow(row: DatasetRow): LocalisedText | null {
  const chars = rowChars(row);
  let problem: LocalisedText | null;
  switch (row.kind) {
    case 'dialogue':
    case 'safety':
      problem = checkTurns(row.turns, 'assistant');
      if (!problem && row.chosen !== undefined) problem = reasons.unexpectedField('chosen', row.kind);
      if (!problem && row.text !== undefined) problem = reasons.unexpectedField('text', row.kind);
      break;
    case 'preference':
      problem =
        checkTurns(row.turns, 'user') ??
        checkText('chosen', row.chosen ?? '', LIMITS.turnChars) ??
        checkText('rejected', row.rejected ?? '', LIMITS.turnChars);
      break;
    case 'text':
      problem = row.turns.length > 0 ? reasons.unexpectedField('turns', 'text') : checkText('text', row.text ?? '', LIMITS.rowChars);
      break;
  }
  if (!problem && row.choice !== undefined) problem = row.kind === 'dialogue' ? checkChoice(row.choice) : reasons.unexpectedField('choice', row.kind);
  if (!problem && row.askEachTurn !== undefined && row.kind !== 'dialogue' && row.kind !== 'safety') problem = reasons.unexpectedField('askEachTurn', row.kind);
  // the per-turn reasons come first: "turn 2 is too long" says more than "row too large"
  return problem ?? (chars > LIMITS.rowChars ? reasons.rowTooLarge(chars) : null) ?? checkMeta(row);
}
