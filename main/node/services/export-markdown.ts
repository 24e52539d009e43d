// A message's Markdown, made safe to place inside the Markdown export. The reply keeps its lists,
// bold and tables (that is how it was written and how it reads on screen), but nothing in it may
// act on the document or on whoever opens it in a Markdown viewer:
//   - raw HTML is escaped (`\<`), so `<script>`, `<img onerror>`, `<details>` show as text;
//   - links to anything but http(s)/mailto keep only their text; images become their alt text
//     (a viewer would fetch a remote image: a tracking pixel, and the workstation is offline);
//   - headings sink below the export's own turn headings (### 患者 / ### 仲景), so a reply's
//     "# 诊断" cannot look like a new section of the consultation;
//   - a code fence left open is closed, so it cannot swallow the turns after it.
// Code (fenced, indented, inline) is left exactly as written.
import {Lexer, type Token, type Tokens} from 'marked';

const SAFE_LINK = /^(?:https?:\/\/|mailto:)/i;
/** the export's turn headings are level 3; a reply's headings start below them */
const MIN_HEADING_DEPTH = 4;
const FENCE = /^ {0,3}(?:>\s*)*(?:[-*+]\s+|\d+[.)]\s+)?(`{3,}|~{3,})/;

/** `<` made literal outside inline code spans (CommonMark: a backslash escapes any ASCII
 * punctuation, so `\<` reads as `<` in every viewer and starts no HTML). */
function escapeHtmlOutsideCode(line: string): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    if (line[i] === '`') {
      const ticks = /^`+/.exec(line.slice(i))![0];
      const close = line.indexOf(ticks, i + ticks.length);
      if (close >= 0) {
        out += line.slice(i, close + ticks.length);
        i = close + ticks.length;
        continue;
      }
      out += ticks;
      i += ticks.length;
      continue;
    }
    out += line[i] === '<' && line[i - 1] !== '\\' ? '\\<' : line[i];
    i += 1;
  }
  return out;
}

/** Escapes raw HTML line by line, leaving fenced code (also inside lists and quotes) alone. */
function escapeHtml(raw: string): string {
  let fence: string | null = null;
  return raw
    .split('\n')
    .map((line) => {
      const opener = FENCE.exec(line)?.[1];
      if (fence !== null) {
        if (opener && opener[0] === fence[0] && opener.length >= fence.length) fence = null;
        return line;
      }
      if (opener) {
        fence = opener;
        return line;
      }
      return escapeHtmlOutsideCode(line);
    })
    .join('\n');
}

/** Every link and image inside a token, at any depth. */
function linksIn(token: Token, found: (Tokens.Link | Tokens.Image)[] = []): (Tokens.Link | Tokens.Image)[] {
  if (token.type === 'link' || token.type === 'image') found.push(token as Tokens.Link | Tokens.Image);
  const children = [
    ...((token as {tokens?: Token[]}).tokens ?? []),
    ...((token as {items?: Token[]}).items ?? []),
    ...((token as {header?: {tokens: Token[]}[]}).header?.flatMap((cell) => cell.tokens) ?? []),
    ...((token as {rows?: {tokens: Token[]}[][]}).rows?.flatMap((row) => row.flatMap((cell) => cell.tokens)) ?? []),
  ];
  for (const child of children) linksIn(child, found);
  return found;
}

/** Links that may not stay (an unsafe address, or any image) replaced by their text. */
function neutraliseLinks(token: Token, raw: string): string {
  for (const link of linksIn(token)) {
    if (link.type === 'link' && SAFE_LINK.test(link.href)) continue;
    const text = link.type === 'image' ? link.text || link.href : link.text;
    raw = raw.split(link.raw).join(text.replace(/[[\]]/g, '\\$&'));
  }
  return raw;
}

function safeBlock(token: Token): string {
  switch (token.type) {
    case 'code': {
      const fence = /^ {0,3}(`{3,}|~{3,})/.exec(token.raw)?.[1];
      if (!fence) return token.raw; // indented code
      const body = token.raw.replace(/\n+$/, '');
      const closed = body.split('\n').length > 1 && new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(body.split('\n').at(-1)!);
      return closed ? token.raw : `${body}\n${fence}\n`;
    }
    case 'heading': {
      const depth = Math.min(6, Math.max(MIN_HEADING_DEPTH, (token as Tokens.Heading).depth + MIN_HEADING_DEPTH - 1));
      const text = escapeHtml(neutraliseLinks(token, (token as Tokens.Heading).text));
      return `${'#'.repeat(depth)} ${text}${/\n+$/.exec(token.raw)?.[0] ?? '\n'}`;
    }
    case 'html':
      return token.raw.replace(/</g, '\\<');
    case 'def': {
      const def = token as Tokens.Def;
      return SAFE_LINK.test(def.href) ? token.raw : token.raw.replace(/^(\s*)\[/, '$1\\[');
    }
    default:
      return escapeHtml(neutraliseLinks(token, token.raw));
  }
}

/** `text` (a message, the system prompt) as Markdown that is safe inside the export. */
export function safeMarkdown(text: string): string {
  const tokens = Lexer.lex(text, {gfm: true});
  return tokens.map(safeBlock).join('').replace(/\n+$/, '');
}

/** One line of plain text (a title) that renders as itself. */
export function safeInline(text: string): string {
  return text.replace(/[\\`*_[\]<>#|]/g, '\\$&');
}
