// `String.prototype.matchAll` clones its regex on every call; run on every turn of a 70k-row
// import that clone showed up as ~10% of the import time. This reuses the (global) regex.

export type Match = RegExpExecArray & {index: number};

export function allMatches(re: RegExp, text: string): Match[] {
  const out: Match[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push(m as Match);
    if (m[0].length === 0) re.lastIndex++;
  }
  return out;
}
