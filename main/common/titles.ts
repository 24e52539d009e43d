// Consultation titles: an untitled consultation is named after its first question, as a
// clinician would file it, and an export is named after the title. A clause cut short must not
// keep its dangling punctuation: "我头痛三天了，" / "我头痛三天了，….md".

/** Punctuation that leaves a title dangling when it ends one: pauses, stops, dashes, ellipses and
 * brackets or quotes that open. A closing ？ or ！ is kept: "感冒能洗澡吗？" is a whole question. */
const DANGLING = /[\s，,、；;：:。.…‥—–\-~～·/\\|（(【[《〈<「『“‘"'＂＇]+$/u;

/** For file names also a closing ？ or ！ (which would become "_"); closing brackets stay. */
const FILE_TRAILING = /[\s，,、；;：:。.…‥—–\-~～·/\\|（(【[《〈<「『“‘"'＂＇？?！!_]+$/u;

export function withoutDanglingPunctuation(text: string): string {
  return text.trim().replace(DANGLING, '');
}

/** The title of an untitled consultation from its first message: the first line that has text,
 * cut at `maxChars` characters (with "…"), never ending in dangling punctuation. Null when the
 * message has no words to name it by (then the consultation keeps its default title). */
export function titleFromFirstMessage(text: string, maxChars = 24): string | null {
  const line = text.split('\n').map((l) => l.trim()).find((l) => withoutDanglingPunctuation(l) !== '') ?? '';
  const chars = [...line];
  const title = chars.length > maxChars ? `${withoutDanglingPunctuation(chars.slice(0, maxChars).join(''))}…` : withoutDanglingPunctuation(line);
  return title.replace(/^…$/, '') || null;
}

/** A title as the start of a file name: no trailing punctuation at all. */
export function titleForFileName(title: string): string {
  return title.trim().replace(FILE_TRAILING, '');
}
