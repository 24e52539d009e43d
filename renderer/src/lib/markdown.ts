// Model replies are Markdown (lists, bold, tables); this turns them into HTML that is safe to put
// on the page. Two locks, either of which would be enough alone:
//   1. marked renders no raw HTML: an HTML block or tag in a reply is shown as its text, a link
//      whose address is not http(s)/mailto is shown as its text, an image as its alt text (nothing
//      is fetched: the workstation is offline, and a remote image would be a tracking pixel).
//   2. DOMPurify then keeps only the handful of elements and attributes Markdown makes, and only
//      http(s)/mailto addresses; every link opens outside the app (target=_blank, rel=noopener
//      noreferrer — Electron hands https links to the system browser and refuses the rest).
// Nothing here needs an inline script or style, so the CSP of main/common/csp.ts is unchanged.
//
// Cost: a reply is rendered block by block (a paragraph, a list, a table…), each block's HTML
// cached by its Markdown source, so while a reply streams only its last block is parsed and
// sanitised again; the component that shows it also throttles how often that happens.
import {Marked, type Token, type TokensList} from 'marked';
import DOMPurify from 'dompurify';

const ENTITIES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

/** Addresses a reply may link to; anything else (javascript:, data:, file:, relative) is text. */
export const SAFE_LINK = /^(?:https?:\/\/|mailto:)/i;

const marked = new Marked({gfm: true, breaks: true, async: false});
marked.use({
  renderer: {
    html({text, block}: {text: string; block?: boolean}): string {
      const shown = escapeHtml(block ? text.replace(/\n+$/, '') : text);
      return block ? `<p>${shown.replace(/\n/g, '<br>')}</p>\n` : shown;
    },
    link({href, title, tokens}): string {
      const text = this.parser.parseInline(tokens);
      if (!SAFE_LINK.test(href)) return text;
      const titled = title ? ` title="${escapeHtml(title)}"` : ` title="${escapeHtml(href)}"`;
      return `<a href="${escapeHtml(href)}"${titled}>${text}</a>`;
    },
    image({text, href}): string {
      return escapeHtml(text || href);
    },
    checkbox({checked}): string {
      return checked ? '☑ ' : '☐ ';
    },
  },
});

const purify = DOMPurify(window);
const ALLOWED_TAGS = [
  'p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'hr',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'a',
];
const PURIFY_CONFIG = {
  ALLOWED_TAGS,
  ALLOWED_ATTR: ['href', 'title', 'start', 'align'],
  ALLOWED_URI_REGEXP: SAFE_LINK,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
};
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    if (node.getAttribute('href')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    } else node.removeAttribute('target');
  }
});

/** One block of Markdown as safe HTML. */
function renderBlock(token: Token, links: TokensList['links']): string {
  const list = Object.assign([token], {links}) as TokensList;
  return purify.sanitize(marked.parser(list), PURIFY_CONFIG);
}

/** A renderer with its own cache, for one message (or one candidate answer) on screen. */
export class MarkdownBlocks {
  private cache = new Map<string, string>();

  /** The HTML of each top-level block of `text`, in order. */
  render(text: string): string[] {
    const tokens = marked.lexer(text);
    const next = new Map<string, string>();
    const blocks: string[] = [];
    for (const token of tokens) {
      if (token.type === 'space' || token.type === 'def') continue;
      // a block whose source has not changed keeps its HTML (reference links are rare in
      // replies; a block with one is rendered each time, in case its definition changed)
      const key = token.raw;
      let html = Object.keys(tokens.links).length ? undefined : (this.cache.get(key) ?? next.get(key));
      html ??= renderBlock(token, tokens.links);
      next.set(key, html);
      blocks.push(html);
    }
    this.cache = next;
    return blocks;
  }
}

/** The whole text as safe HTML, in one string. */
export function markdownToSafeHtml(text: string): string {
  return new MarkdownBlocks().render(text).join('');
}

/** What a reader sees of `text`, without the marks (for one-line excerpts and tooltips). */
export function markdownToPlainText(text: string): string {
  const fragment = purify.sanitize(markdownToSafeHtml(text), {...PURIFY_CONFIG, RETURN_DOM_FRAGMENT: true});
  for (const block of fragment.querySelectorAll('p, li, tr, h1, h2, h3, h4, h5, h6, pre, br')) block.append(' ');
  return (fragment.textContent ?? '').replace(/\s+/g, ' ').trim();
}
