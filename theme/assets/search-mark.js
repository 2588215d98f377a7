// A page opened from a search result (…/index.html#highlight=<query>, written by
// assets/search-page.js; assets/settings.js loads this script only then): the first match of the query in the page's main text is put in
// a <mark>, scrolled into view and focused (docs/search.md). Matching is search.js's:
// folded (`fold`), case-insensitive, white space inside a block ignored, never across
// blocks; what the index leaves out (<nav>, elements marked data-search-skip) is left out
// here too, and a match in the page heading counts only when there is no other. Without
// JavaScript, or with no match, the page opens at its top as usual.

const PREFIX = '#highlight=';
// Elements that flow inside a line (searchtext.INLINE): no block boundary where they start or end.
const INLINE = new Set(['a', 'abbr', 'b', 'bdi', 'bdo', 'cite', 'code', 'data', 'del', 'dfn', 'em', 'i', 'ins',
  'kbd', 'mark', 'q', 's', 'samp', 'small', 'span', 'strong', 'sub', 'sup', 'time', 'u', 'var', 'wbr']);
const BLOCK = '\u0000';

function blockOf(node) {
  let el = node.parentElement;
  while (el && INLINE.has(el.localName)) el = el.parentElement;
  return el;
}

const shown = (node) => node.parentElement.getClientRects().length > 0 || !!node.parentElement.closest('details:not([open])');

function highlight(want, foldMap) {
  const main = document.querySelector('main');
  if (!main || !want.length) return;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement.closest('nav, script, style, template, [data-search-skip]')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  let text = '', block = null;
  const nodes = [];   // [node, start in text]
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const b = blockOf(n);
    if (b !== block) { text += BLOCK; block = b; }
    nodes.push([n, text.length]);
    text += n.data;
  }
  const [low, from, to] = foldMap(text, BLOCK);
  const at = [];
  for (const t of want) for (let k = low.indexOf(t); k >= 0; k = low.indexOf(t, k + 1)) at.push([k, k + t.length]);
  at.sort((a, b) => a[0] - b[0]);
  const nodeAt = (i) => { let j = nodes.length - 1; while (j > 0 && nodes[j][1] > i) j--; return j; };
  const pieces = ([k, e]) => {
    const s = from[k], end = to[e - 1], out = [];
    for (let j = nodeAt(s); j < nodes.length && nodes[j][1] < end; j++) {
      const [node, start] = nodes[j];
      const a = Math.max(s - start, 0), z = Math.min(end - start, node.data.length);
      if (z > a) out.push([node, a, z]);
    }
    return out;
  };
  const candidates = at.map(pieces).filter((p) => p.length && shown(p[0][0]));
  const best = candidates.find((p) => !p[0][0].parentElement.closest('h1')) ?? candidates[0];
  if (!best) return;
  const marks = [];
  for (const [node, a, z] of best.reverse()) {
    const range = document.createRange();
    range.setStart(node, a);
    range.setEnd(node, z);
    const mark = document.createElement('mark');
    mark.className = 'search-match';
    range.surroundContents(mark);
    marks.unshift(mark);
  }
  const first = marks[0];
  for (let d = first.closest('details:not([open])'); d; d = d.parentElement?.closest('details:not([open])')) d.open = true;
  first.id = 'search-match';
  first.tabIndex = -1;
  first.focus({ preventScroll: true });
  first.scrollIntoView({ block: 'center' });
}

// Loaded by assets/settings.js from the page's <head>: the page may not be parsed yet.
function start() {
  (async () => {
    const query = decodeURIComponent(location.hash.slice(PREFIX.length));
    const { terms, foldMap } = await import('./search.js');
    highlight(terms(query), foldMap);
  })().catch(() => {});   // a malformed address: the page stays at its top
}

if (location.hash.startsWith(PREFIX)) {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}
