/** A LIKE pattern that matches `text` literally anywhere (%, _ and \ in a search are not
 * wildcards); use with `ESCAPE '\'`. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
