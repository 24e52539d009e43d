// De-identification of Chinese consultation text. Every finding is replaced by its typed
// placeholder (PHI_PLACEHOLDERS, e.g. 〔电话〕) and returned as a span over the NEW text with the
// original, so a reviewer can undo one item at a time (`undoReplacement`).
//
// COVERED
//   id_card         18-digit resident ID with a valid GB 11643 check digit, a real province code
//                   and a valid birth date inside (spaces/dashes between the 6-8-4 groups allowed);
//                   15-digit first-generation IDs with a valid province code and date; right after
//                   身份证/身份证号/身份证号码/证件号 any 18 digits (or 17 + X): a mistyped ID is still one
//   phone           mobiles 1[3-9]x xxxx xxxx with optional +86/0086/86 and spaces or dashes;
//                   landlines 0AA(A)-NNNNNNN(N) with a separator, parentheses or a phone word
//                   before them (电话/座机/致电…), with 转/ext extensions; 400/800 numbers;
//                   7–8 digit local numbers only right after a phone word
//   email           local@domain.tld
//   bank_card       16–19 digits, optionally in groups of 4, passing the Luhn check
//   medical_record  the number after 病历号/病案号/住院号/门诊号/就诊卡号/就诊号/诊疗卡号/
//                   医保卡号/社保卡号/健康卡号/登记号/病理号/影像号/标本号/患者ID/ID号/MRN (the keyword is kept)
//   birth_date      a date (YYYY年M月[D日], YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD, Chinese
//                   numerals) after 出生日期/出生年月/出生于/生于/生日/出生/DOB, or before 出生/
//                   生人/出世; the keyword is kept
//   address         see deid-address.ts (street-level addresses, anchored)
//   name            see deid-names.ts (only where the context marks a name); a name of 2+ characters
//                   found anywhere in a record is then replaced at every occurrence in every text of
//                   that record (`deidentifyTexts`): the reply that greets 张三 leaks what the
//                   question's 我叫张三 gave away
// NOT COVERED
//   ages, years of birth alone (1985年出生: kept, as HIPAA Safe Harbor keeps years), dates of
//   illness, visits or surgery (not identifying by themselves), cities/provinces alone, hospital
//   and department names, doctors' licence numbers, car plates, WeChat/QQ ids, IP addresses,
//   identifiers written in Chinese numerals or full-width digits (except in dates), names without
//   a cue, and anything in images or attachments. Numbers without a keyword that fail every
//   checksum (lab numbers, batch numbers, doses, blood pressure 140/90) are left alone on purpose.

import type {PhiType} from '../../common/datasets.js';
import {PHI_PLACEHOLDERS} from '../../common/datasets.js';
import {AppError} from '../../common/errors.js';
import {findAddresses} from './deid-address.js';
import {findNames} from './deid-names.js';
import {allMatches} from './regex-util.js';

export interface PhiSpan {
  /** span of the placeholder in the de-identified text */
  start: number;
  end: number;
  type: PhiType;
  original: string;
}

interface Found {
  start: number;
  end: number;
  type: PhiType;
}

// ───── checksums ─────

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';
const PROVINCE_CODES = new Set([11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83]);

export function idCardChecksumOk(id18: string): boolean {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id18[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === id18[17]!.toUpperCase();
}

function validDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

export function luhnOk(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// ───── detectors ─────

const NB = '(?<![0-9A-Za-z])'; // not inside a longer number or word
const NA = '(?![0-9A-Za-z])';
const ID18 = new RegExp(`${NB}([1-8][0-9]{5})[ -]?((?:18|19|20)[0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[ -]?([0-9]{3}[0-9Xx])${NA}`, 'g');
const ID15 = new RegExp(`${NB}([1-8][0-9]{5})([0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])([0-9]{3})${NA}`, 'g');
// after an explicit ID keyword the check digit, province and date are not required
const ID_CUE = new RegExp(`(?:身份证(?:号码|号)?|证件号码?)(?:是|为)?[：:\\s]*([0-9]{6}[ -]?[0-9]{8}[ -]?[0-9]{3}[0-9Xx])${NA}`, 'g');
const BANK = new RegExp(`${NB}(?:[0-9]{4}[ -]){3}[0-9]{4}(?:[ -]?[0-9]{1,3})?${NA}|${NB}[0-9]{16,19}${NA}`, 'g');
const MOBILE = new RegExp(`${NB}(?:(?:\\+|00)?86[ -]?|[(（]\\+?86[)）][ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}${NA}`, 'g');
const AREA = '0(?:10|2[0-9]|[3-9][0-9]{2})';
const LANDLINE = new RegExp(`${NB}(?:[(（](${AREA})[)）][ -]?|(${AREA})([ -]?))([2-9][0-9]{2,3}[ -]?[0-9]{4})(?:(?:转|-|ext\\.?)[0-9]{1,5})?${NA}`, 'g');
const HOTLINE = new RegExp(`${NB}[48]00[ -]?[0-9]{3}[ -]?[0-9]{4}${NA}`, 'g');
const PHONE_WORD = /(?:电话|座机|手机|热线|联系|致电|拨打|号码|[Tt]el|TEL)[^0-9\n]{0,6}$/;
const LOCAL = /(?:电话|座机|热线|致电|拨打|[Tt]el|TEL)(?:号码)?[：:\s]*(?:是|为)?[：:\s]*([2-9][0-9]{6,7})(?![0-9])/g;
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])/g;
const RECORD =
  /(?:病历号|病历编号|病案号|病理号|病理编号|影像号|标本号|住院号|门诊号|住院编号|门诊编号|就诊卡号|就诊号|诊疗卡号|医保卡号|社保卡号|健康卡号|登记号|患者ID|病人ID|ID号|id号|MRN)码?[\s：:#＃]*(?:是|为)?[\s：:#＃]*([A-Za-z]{0,4}-?[0-9][0-9A-Za-z-]{3,24})/g;
const DATE =
  '(?:(?:18|19|20)[0-9]{2}\\s*年\\s*[0-9]{1,2}\\s*月(?:\\s*[0-9]{1,2}\\s*[日号])?|(?:18|19|20)[0-9]{2}[-/.][0-9]{1,2}[-/.][0-9]{1,2}(?![0-9])|(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?![0-9])|[一二三四五六七八九〇零]{4}年[一二三四五六七八九十]{1,2}月(?:[一二三四五六七八九十]{1,3}[日号])?)';
const BIRTH_BEFORE = new RegExp(`(?:出生日期|出生年月日|出生年月|出生时间|出生于|出生在|生于|生日|DOB|出生)\\s*(?:是|为)?\\s*[：:]?\\s*(?:今年|去年|前年)?(${DATE}|[0-9]{1,2}\\s*月\\s*[0-9]{1,2}\\s*[日号])`, 'g');
const BIRTH_AFTER = new RegExp(`(?<![0-9])(${DATE})\\s*(?:出生|生人|出世|生(?=的?(?:[，。,.；;、\\s]|$)))`, 'g');

const matches = allMatches;

function findNumbers(text: string, out: Found[]): void {
  for (const m of matches(ID18, text)) {
    const digits = m[1]! + m[2]! + m[3]! + m[4]! + m[5]!;
    if (PROVINCE_CODES.has(Number(digits.slice(0, 2))) && validDate(Number(m[2]), Number(m[3]), Number(m[4])) && idCardChecksumOk(digits))
      out.push({start: m.index, end: m.index + m[0].length, type: 'id_card'});
  }
  for (const m of matches(ID_CUE, text)) {
    const start = m.index + m[0].length - m[1]!.length;
    out.push({start, end: start + m[1]!.length, type: 'id_card'});
  }
  for (const m of matches(ID15, text))
    if (PROVINCE_CODES.has(Number(m[1]!.slice(0, 2))) && validDate(1900 + Number(m[2]), Number(m[3]), Number(m[4])))
      out.push({start: m.index, end: m.index + m[0].length, type: 'id_card'});
  for (const m of matches(BANK, text)) {
    let s = m[0];
    let digits = s.replace(/[ -]/g, '');
    // "…7890 12" may be a card plus an unrelated number: try without the short tail
    if (!(digits.length >= 16 && digits.length <= 19 && luhnOk(digits))) {
      const tail = /[ -][0-9]{1,3}$/.exec(s);
      if (!tail) continue;
      s = s.slice(0, tail.index);
      digits = s.replace(/[ -]/g, '');
      if (!(digits.length >= 16 && luhnOk(digits))) continue;
    }
    out.push({start: m.index, end: m.index + s.length, type: 'bank_card'});
  }
  for (const m of matches(MOBILE, text)) out.push({start: m.index, end: m.index + m[0].length, type: 'phone'});
  for (const m of matches(LANDLINE, text)) {
    const separated = m[1] !== undefined || (m[3] ?? '') !== '';
    if (separated || PHONE_WORD.test(text.slice(Math.max(0, m.index - 10), m.index))) out.push({start: m.index, end: m.index + m[0].length, type: 'phone'});
  }
  for (const m of matches(HOTLINE, text)) out.push({start: m.index, end: m.index + m[0].length, type: 'phone'});
  for (const m of matches(LOCAL, text)) {
    const start = m.index + m[0].length - m[1]!.length;
    out.push({start, end: start + m[1]!.length, type: 'phone'});
  }
  for (const m of matches(EMAIL, text)) out.push({start: m.index, end: m.index + m[0].length, type: 'email'});
  for (const m of matches(RECORD, text)) {
    const value = m[1]!.replace(/-+$/, '');
    if ((value.match(/[0-9]/g)?.length ?? 0) < 4) continue;
    const start = m.index + m[0].length - m[1]!.length;
    out.push({start, end: start + value.length, type: 'medical_record'});
  }
  for (const re of [BIRTH_BEFORE, BIRTH_AFTER])
    for (const m of matches(re, text)) {
      const start = re === BIRTH_AFTER ? m.index : m.index + m[0].length - m[1]!.length;
      out.push({start, end: start + m[1]!.trimEnd().length, type: 'birth_date'});
    }
}

// an explicit keyword (住院号) says more than a number's shape; names and addresses come last
const PRIORITY: Record<PhiType, number> = {medical_record: 0, id_card: 1, bank_card: 2, email: 3, phone: 4, birth_date: 5, address: 6, name: 7};

/** Quick test so clean text (most of it) skips the detectors that need digits or @. */
const HAS_DIGIT_OR_AT = /[0-9@一二三四五六七八九〇零]/;

function detect(text: string): Found[] {
  const found: Found[] = [];
  if (HAS_DIGIT_OR_AT.test(text)) findNumbers(text, found);
  for (const c of findAddresses(text)) found.push({...c, type: 'address'});
  for (const c of findNames(text)) found.push({...c, type: 'name'});
  return resolveOverlaps(text, found);
}

function resolveOverlaps(text: string, found: Found[]): Found[] {
  if (found.length < 2) return found;
  // keep the most trusted, then the longest, of overlapping findings. The characters already
  // taken are marked, so each finding is checked against its own span only: comparing it with
  // every finding kept so far was quadratic ("我叫张" × 33,000 = 33,000 names took 36 s).
  found.sort((a, b) => PRIORITY[a.type] - PRIORITY[b.type] || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const taken = new Uint8Array(text.length);
  const kept: Found[] = [];
  for (const f of found) {
    let free = true;
    for (let i = f.start; i < f.end && free; i++) free = taken[i] === 0;
    if (!free) continue;
    taken.fill(1, f.start, f.end);
    kept.push(f);
  }
  return kept.sort((a, b) => a.start - b.start);
}

/** Every occurrence of the record's names in `text`, longest first, in one pass (linear in the
 * text: at most one Set lookup per name length at each position). */
function nameOccurrences(text: string, names: Set<string>, firsts: Set<string>, lengths: number[]): Found[] {
  const out: Found[] = [];
  for (let i = 0; i < text.length; i++) {
    if (!firsts.has(text[i]!)) continue;
    for (const n of lengths)
      if (names.has(text.slice(i, i + n))) {
        out.push({start: i, end: i + n, type: 'name'});
        i += n - 1;
        break;
      }
  }
  return out;
}

/** De-identifies the texts of ONE record (the turns of a dialogue, a preference pair, …) together.
 * Each text is searched on its own; then a name of 2+ characters kept in any of them is replaced
 * wherever it occurs in all of them (the same text included), each occurrence a span of its own
 * so the review lists it and can undo it. A surname alone (我姓王, 王医生) is not spread: it
 * would take every 王 of the record. */
export function deidentifyTexts(texts: readonly string[]): {text: string; spans: PhiSpan[]}[] {
  const found = texts.map(detect);
  const names = new Set<string>();
  found.forEach((list, i) => {
    for (const f of list) if (f.type === 'name' && f.end - f.start >= 2) names.add(texts[i]!.slice(f.start, f.end));
  });
  if (names.size > 0) {
    const firsts = new Set([...names].map((n) => n[0]!));
    const lengths = [...new Set([...names].map((n) => n.length))].sort((a, b) => b - a);
    found.forEach((list, i) => {
      const more = nameOccurrences(texts[i]!, names, firsts, lengths);
      if (more.length > 0) found[i] = resolveOverlaps(texts[i]!, [...list, ...more]);
    });
  }
  return texts.map((text, i) => replaceFound(text, found[i]!));
}

export function deidentifyText(text: string): {text: string; spans: PhiSpan[]} {
  return deidentifyTexts([text])[0]!;
}

function replaceFound(text: string, found: Found[]): {text: string; spans: PhiSpan[]} {
  if (found.length === 0) return {text, spans: []};
  let out = '';
  let last = 0;
  const spans: PhiSpan[] = [];
  for (const f of found) {
    out += text.slice(last, f.start);
    const placeholder = PHI_PLACEHOLDERS[f.type];
    spans.push({start: out.length, end: out.length + placeholder.length, type: f.type, original: text.slice(f.start, f.end)});
    out += placeholder;
    last = f.end;
  }
  return {text: out + text.slice(last), spans};
}

/** Restores one original. Spans after it in the same text move by (original − placeholder)
 * length; `undoReplacements` does several at once and handles that. If the text was edited and
 * the placeholder is no longer at the span, it is looked up once by text; otherwise an error. */
export function undoReplacement(text: string, span: PhiSpan): string {
  const placeholder = PHI_PLACEHOLDERS[span.type];
  if (text.slice(span.start, span.end) === placeholder) return text.slice(0, span.start) + span.original + text.slice(span.end);
  const at = text.indexOf(placeholder);
  if (at >= 0 && text.indexOf(placeholder, at + 1) < 0) return text.slice(0, at) + span.original + text.slice(at + placeholder.length);
  throw new AppError('validation', {
    zh: '无法撤销：该位置已不是替换占位符（文本已被编辑）。',
    en: 'Cannot undo: the placeholder is no longer at this position (the text was edited).',
  });
}

export function undoReplacements(text: string, spans: PhiSpan[]): string {
  // right to left, so the positions of the spans still to undo do not move
  for (const span of [...spans].sort((a, b) => b.start - a.start)) text = undoReplacement(text, span);
  return text;
}
