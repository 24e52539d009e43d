// A file the person picked, as text: read as bytes and decoded as strict UTF-8. File#text()
// replaces every byte sequence that is not UTF-8 with U+FFFD, so a GBK file (what Chinese
// Windows editors save) would be imported as rows of "�" and random bytes would surface as a JSON
// syntax error; here either is refused, in both languages, before anything is sent.
import {AppError} from '../../../main/common/errors';
import {bothLanguages} from './i18n';

/** The file's text (a UTF-8 byte order mark is dropped), or a `validation` AppError naming the
 * file when it is not UTF-8. */
export async function readUtf8File(file: File): Promise<string> {
  const bytes = await file.arrayBuffer();
  try {
    return new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  } catch {
    throw new AppError('validation', bothLanguages('fileNotUtf8', {name: file.name}));
  }
}
