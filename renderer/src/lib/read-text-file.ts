// A file the person picked, as text: read as bytes and decoded as strict UTF-8. File#text()
// replaces every byte sequence that is not UTF-8 with U+FFFD, so a GBK file (what Chinese
// Windows editors save) would be imported as rows of "�" and random bytes would surface as a JSON
// syntax error; here either is refused, in both languages, before anything is sent.
import {AppError} from '../../../main/common/errors';
import {bothLanguages} from './i18n';

/** The file's text (a UTF-8 byte order mark is dropped), or a `validation` AppError naming the
 * file when it is not UTF-8: the lines that are not, when only a few are (a damaged byte in an
 * otherwise good file), so the person can mend them; the encoding when most are (GBK). */
export async function readUtf8File(file: File): Promise<string> {
  const bytes = await file.arrayBuffer();
  try {
    return new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  } catch {
    const bad = linesNotUtf8(new Uint8Array(bytes));
    if (bad.lines.length > 0 && bad.lines.length < bad.total && bad.lines.length <= Math.max(3, bad.total / 10)) {
      const shown = bad.lines.slice(0, 5).join('、') + (bad.lines.length > 5 ? '…' : '');
      throw new AppError('validation', bothLanguages('fileLinesNotUtf8', {name: file.name, lines: shown, n: bad.lines.length}));
    }
    throw new AppError('validation', bothLanguages('fileNotUtf8', {name: file.name}));
  }
}

/** 1-based numbers of the lines that are not valid UTF-8, and how many lines there are. */
export function linesNotUtf8(bytes: Uint8Array): {lines: number[]; total: number} {
  const decoder = new TextDecoder('utf-8', {fatal: true});
  const lines: number[] = [];
  let start = 0;
  let line = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    line++;
    try {
      decoder.decode(bytes.subarray(start, end));
    } catch {
      lines.push(line);
    }
    start = end + 1;
  }
  return {lines, total: line};
}
