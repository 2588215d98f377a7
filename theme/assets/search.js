// Site search: every page whose main text contains the query, best first (docs/search.md).
//
//   import { search } from '<site root>/assets/search.js';
//   const results = await search('老干部 满意度', { filters: { year: '2020' } });
//   // [{ url: '2020/287002/index.html', title, excerpt, agency, year, region, kind,
//   //    categories, budget, count, inTitle }, …]
//
// A page matches when every space-separated term of the query occurs in its main text,
// both folded (`fold`: width and compatibility variants by NFKC, ≧ as ≥, ≦ as ≤, white
// space inside a block ignored: `2022年度` finds `2022 年度`, `90％` finds `90%`) and
// case-insensitive; a term never runs from one block (cell, paragraph) into the next. `url` is relative to the site
// root; `excerpt` is HTML: escaped text around the first match with the terms in <mark>.
// `filters`: year, region, agency, category (一级指标), kind (部门 or 项目), each a value or
// an array of values that must all apply. `budget` is in yuan (or null).
//
// The index (search-index/, written by gongkai/search/index.py: the format is described
// there; change the two together) holds, for each letter or digit and each pair of them
// that stand together in a page, the pages that have it. A term is looked up as its
// pairs (a lone letter or digit as itself): the pages holding all of them are the
// candidates, and a candidate is a result once its page file shows the term in its text
// (which also gives the excerpt).
// This module resolves everything from its own URL, so the site may live under any path.

const root = new URL('../', import.meta.url);
const bundle = new URL('search-index/', root);
const TITLE = '#';

// An index file's bytes, unpacked: the build gzips every file; a server may have
// unpacked it on the way (Content-Encoding), so only bytes that start gzip are unpacked.
async function load(path, init = {}) {
  const response = await fetch(new URL(path, bundle), init);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
const decoder = new TextDecoder();
const loadJson = async (path, init) => JSON.parse(decoder.decode(await load(path, init)));
const cached = (make) => {
  let promise;
  return () => {
    promise ??= make();
    promise.catch(() => { promise = undefined; });   // a failed load is tried again next time
    return promise;
  };
};

// meta.bin: page count, word files, facet values, each page's facets and the index's
// version. It is checked with the server on every first search (a redeployed site
// numbers its pages anew); every other file is asked for with `?v=version`, so the
// browser's cache never mixes files of two builds.
const meta = cached(async () => {
  const m = await loadJson('meta.bin', { cache: 'no-cache' });
  const facets = [];
  let n = 0;
  for (const [count, y, r, a] of m.groups) {
    const shared = { year: m.facets.year[y] ?? null, region: m.facets.region[r] ?? null, agency: m.facets.agency[a] ?? null };
    for (let i = 0; i < count; i++, n++) {
      facets.push({
        ...shared, kind: m.facets.kind[m.kinds[n]] ?? null,
        categories: m.facets.category.filter((_, c) => m.categories[n] & (1 << c)),
      });
    }
  }
  return { pages: m.pages, wordFiles: m.wordFiles, facets, version: m.version };
});
const versioned = async (path) => `${path}?v=${(await meta()).version}`;
const budgetTable = cached(async () => loadJson(await versioned('budgets.bin')));
const pageFile = async (n) => loadJson(await versioned(`pages/${Math.floor(n / 1024)}/${n}.bin`));

// FNV-1a of the word's UTF-8 bytes (gongkai/search/index.py word_hash).
const encoder = new TextEncoder();
function wordHash(word) {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(word)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

function varint(data, at) {
  let n = 0, shift = 0, byte;
  do {
    byte = data[at.i++];
    n += (byte & 127) * 2 ** shift;
    shift += 7;
  } while (byte & 128);
  return n;
}

function pagesOf(data) {
  const pages = [];
  const at = { i: 0 };
  let page = -1;
  while (at.i < data.length) pages.push(page += varint(data, at));
  return pages;
}

// Word file -> Promise<Map(key -> Promise<page numbers>)>
const wordFiles = new Map();
function wordFile(n) {
  if (!wordFiles.has(n)) {
    const p = versioned(`words/${n}.bin`).then(load).then((data) => {
      const entries = new Map();
      const at = { i: 0 };
      while (at.i < data.length) {
        const length = varint(data, at);
        const key = decoder.decode(data.subarray(at.i, at.i + length));
        at.i += length;
        const value = varint(data, at);
        if (value % 2) {
          let pages;
          entries.set(key, () => (pages ??= versioned(`words/big/${(value - 1) / 2}.bin`).then(load).then(pagesOf)));
        } else {
          const posting = data.subarray(at.i, at.i + value / 2);
          at.i += value / 2;
          entries.set(key, () => Promise.resolve(pagesOf(posting)));
        }
      }
      return entries;
    });
    p.catch(() => wordFiles.delete(n));
    wordFiles.set(n, p);
  }
  return wordFiles.get(n);
}

/** The pages (numbers, ascending) whose text holds `word`; TITLE + word: whose heading. */
async function lookup(word) {
  const { wordFiles: count } = await meta();
  const entries = await wordFile(wordHash(word.startsWith(TITLE) ? word.slice(1) : word) % count);
  const found = entries.get(word);
  return found ? found() : [];
}

// The same whitespace as Python's str.isspace() plus JavaScript's \s (searchtext.norm_text).
const WS = /[\s\x1c-\x1f\x85]+/g;
const WS1 = /^[\s\x1c-\x1f\x85]$/;
// Same meaning, other code points; applied after NFKC (searchtext.VARIANTS).
const VARIANTS = { '\u2267': '\u2265', '\u2266': '\u2264', '\u2a7e': '\u2265', '\u2a7d': '\u2264' };
// A letter or digit (gongkai/search/records.py is_word_char).
const isAlnum = (c) => /^[\p{L}\p{N}]$/u.test(c);
const lower1 = (c) => { const l = c.toLowerCase(); return [...l].length === 1 ? l : c; };

/** Whitespace runs as one space, none at the ends (searchtext.norm_text). */
export const normText = (s) => String(s ?? '').replace(WS, ' ').trim();

const folds = new Map();
/** What one character is to search: NFKC, then VARIANTS, white space removed
 *  (searchtext.fold_char: the same function, tested on every BMP character). */
export function foldChar(c) {
  let f = folds.get(c);
  if (f === undefined) {
    f = '';
    if (!WS1.test(c)) for (const x of c.normalize('NFKC')) if (!WS1.test(x)) f += VARIANTS[x] ?? x;
    folds.set(c, f);
  }
  return f;
}

/** `s` as search compares it: every character folded, white space gone (searchtext.fold). */
export function fold(s) {
  let out = '';
  for (const c of String(s ?? '')) out += foldChar(c);
  return out;
}

// `text` folded and lower-cased, `sep` (a block boundary) kept as ' ', with where each
// character of the result came from: [low, from, to] (from[i]..to[i] in `text`).
export function foldMap(text, sep = null) {
  let low = '';
  const from = [], to = [];
  let i = 0;
  for (const c of text) {
    const f = c === sep ? ' ' : foldChar(c);
    for (const x of f) { low += lower1(x); from.push(i); to.push(i + c.length); }
    i += c.length;
  }
  return [low, from, to];
}

// The words one term is looked up as: in each run of letters and digits, every pair of
// neighbours; a run of one character is that character. A page holding the term holds
// all of them. Every pair, not just enough to cover the run: the rare pairs across word
// boundaries (区工 in 社区工作) cost little and leave few candidates that lack the term.
function words(term) {
  const cs = [...term];
  const out = new Set();
  for (let i = 0; i < cs.length;) {
    if (!isAlnum(cs[i])) { i++; continue; }
    let j = i;
    while (j < cs.length && isAlnum(cs[j])) j++;
    if (j - i === 1) out.add(cs[i]);
    for (let k = i; k + 1 < j; k++) out.add(cs[k] + cs[k + 1]);
    i = j;
  }
  return [...out];
}

// Whether the candidates of `terms` are exactly the pages that hold them: each term one
// letter or digit, or two (a pair is looked up whole).
const exactly = (terms) => terms.every((t) => [...t].length <= 2 && [...t].every(isAlnum));

const intersect = (a, b) => {
  const other = new Set(b);
  return a.filter((x) => other.has(x));
};

// The candidates of `want`: page numbers, ascending, and the pages of each word looked up.
async function candidates(want) {
  const all = [...new Set(want.flatMap(words))];
  if (!all.length) {
    // Only punctuation and symbols, which the index leaves out: every page is a candidate.
    const { pages } = await meta();
    return { pages: Array.from({ length: pages }, (_, n) => n), of: new Map() };
  }
  const found = await Promise.all(all.map((w) => lookup(w)));
  const of = new Map(all.map((w, i) => [w, found[i]]));
  return { pages: [...found].sort((a, b) => a.length - b.length).reduce(intersect), of };
}

// Which candidates seem to hold every term in their heading: those whose heading holds
// the two rarest words of each term (the rarest have the smallest headings' postings
// too; a common pair's can be 10 KB at 100,000 pages). A guess, to order pages not yet
// loaded: a loaded page says exactly.
async function inHeadings(want, found) {
  if (!found.of.size) return new Set();
  const rarest = want.map((t) => words(t).sort((a, b) => found.of.get(a).length - found.of.get(b).length).slice(0, 2));
  const titles = await Promise.all([...new Set(rarest.flat())].map((w) => lookup(TITLE + w)));
  return new Set(titles.sort((a, b) => a.length - b.length).reduce(intersect, found.pages));
}

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s) => s.replace(/[&<>"']/g, (c) => ESC[c]);
const ASCII_ALNUM = /^[0-9a-z]$/i;

// Occurrences of `term` in `low` (lower-cased text), and how many stand on their own:
// a term that starts (ends) with a Latin letter or digit does not continue a longer
// code or number there ("5.00" in "25.00" is an occurrence, not a whole one).
// `at`: where the excerpt should be, the first (whole) occurrence from `from` on if any.
function occurrences(low, term, from = 0) {
  let all = 0, whole = 0, first = -1, firstWhole = -1, later = -1;
  const startsAlnum = ASCII_ALNUM.test(term[0]), endsAlnum = ASCII_ALNUM.test(term[term.length - 1]);
  for (let k = low.indexOf(term); k >= 0; k = low.indexOf(term, k + 1)) {
    all++;
    if (first < 0) first = k;
    if (later < 0 && k >= from) later = k;
    const before = low[k - 1] ?? '', after = low[k + term.length] ?? '';
    if (!(startsAlnum && ASCII_ALNUM.test(before)) && !(endsAlnum && ASCII_ALNUM.test(after))) {
      whole++;
      if (firstWhole < 0) firstWhole = k;
    }
  }
  return { all, whole, at: later >= 0 ? later : firstWhole >= 0 ? firstWhole : first };
}

const BLOCK = '\u0000';   // a block boundary in decoded text, shown as a space
const shown = (s) => esc(s.replaceAll(BLOCK, ' '));

/** HTML: escaped text around `at` (in `low`, from `foldMap`) with every term in <mark>
 *  (no terms: the text from `at` on); shown as the page prints it, spaces and punctuation
 *  included. */
function excerpt(text, [low, from, to], terms, at, around = 40) {
  if (!low.length || at >= low.length) return '';
  const s = terms.length ? Math.max(0, at - around) : at;
  const e = Math.min(low.length, terms.length ? at + terms[0].length + around : at + 2 * around);
  let out = '', done = from[s];
  for (let i = s; i < e;) {
    const t = terms.find((x) => low.startsWith(x, i));
    const end = t ? i + t.length : i + 1;
    if (to[end - 1] > done) {
      out += shown(text.slice(done, from[i] > done ? from[i] : done));
      const part = shown(text.slice(Math.max(from[i], done), to[end - 1]));
      out += t ? `<mark>${part}</mark>` : part;
      done = to[end - 1];
    }
    i = end;
  }
  return (s > 0 ? '…' : '') + out.trim() + (e < low.length ? '…' : '');
}

const foldLow = (s) => foldMap(s)[0];

/** The query as the terms a page must contain: folded (`fold`), lower case, each once. */
export function terms(query) {
  return [...new Set(normText(query).split(' ').map(foldLow).filter(Boolean))];
}

const FACETS = ['year', 'region', 'agency', 'category', 'kind'];

/** Whether a result has every value of `filters` ({facet: value or [values]}). */
export function passes(result, filters = {}) {
  return Object.entries(filters).every(([key, want]) => {
    const have = key === 'category' ? result.categories : [result[key]];
    return [].concat(want).every((v) => have.includes(String(v)));
  });
}
const byUrl = (a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0);

/** Best first: every term in the title, whole occurrences, all occurrences, the shorter
 *  page (`score`: minus its length), URL. */
export function byRelevance(a, b) {
  return (b.inTitle - a.inTitle) || (b.whole - a.whole) || (b.count - a.count)
    || (b.score - a.score) || byUrl(a, b);
}


// The result for one page from its page file, or null when the text lacks a term.
// With no terms (browsing) every page is a result, its excerpt the text after the heading.
function shape(n, facets, d, want) {
  const text = d.text;
  const folded = foldMap(text, BLOCK);
  const low = folded[0];
  const title = d.title ?? '';
  const titleLow = foldLow(title);
  // The excerpt shows the first match after the page's heading when there is one: the
  // heading is shown anyway, and the lines above it name the agency on every page.
  const heading = titleLow ? low.indexOf(titleLow) : -1;
  const body = heading >= 0 ? heading + titleLow.length + 1 : 0;
  let count = 0, whole = 0, at = want.length ? -1 : Math.min(body, low.length);
  for (const t of want) {
    const o = occurrences(low, t, body);
    if (!o.all) return null;
    count += o.all;
    whole += o.whole;
    if (at < 0) at = o.at;
  }
  return {
    id: n,
    url: String(d.url).replace(/^\/+/, ''),
    title,
    excerpt: excerpt(text, folded, want, at),
    ...facets,
    budget: d.budget ?? null,
    count, whole,
    inTitle: want.length > 0 && want.every((t) => titleLow.includes(t)),
    score: -low.length,
  };
}

function checkFilters(filters) {
  for (const key of Object.keys(filters)) if (!FACETS.includes(key)) throw new Error(`unknown filter ${key}`);
}

async function loadPages(numbers, want) {
  const { facets } = await meta();
  const datas = await Promise.all(numbers.map(pageFile));
  return datas.map((d, i) => shape(numbers[i], facets[numbers[i]], d, want));
}

/**
 * Every page whose main text contains every term of `query`, best first, each with its
 * page file loaded (for many results on a large site, see `find`).
 * @param {string} query
 * @param {{filters?: object}} [options]
 * @returns {Promise<Array<{url: string, title: string, excerpt: string, agency: ?string,
 *   year: ?string, region: ?string, kind: ?string, categories: string[], budget: ?number,
 *   count: number, whole: number, inTitle: boolean, score: number, id: number}>>}
 */
export async function search(query, { filters = {} } = {}) {
  checkFilters(filters);
  const want = terms(query);
  if (!want.length) return [];
  const { facets } = await meta();
  const found = (await candidates(want)).pages.filter((n) => passes(facets[n], filters));
  return (await loadPages(found, want)).filter(Boolean).sort(byRelevance);
}

// Pages not loaded yet, for showing a few at a time: each with its facets, `load()`
// resolving to its full result (or null).
function unloaded(n, facets, want, extra = {}) {
  let loading;
  return {
    id: n, ...facets, count: 0, whole: 0, inTitle: false, score: 0, url: null, budget: null, ...extra,
    load: () => (loading ??= pageFile(n).then((d) => shape(n, facets, d, want))),
  };
}

/**
 * The same pages as `search`, for showing a few at a time. Up to `loadAbove` candidates
 * are loaded and checked as by `search`. Beyond that each page comes with its facets and
 * whether its heading holds the terms, and `load()` fetches its page file, resolving to
 * the full result, or to null for a page whose text lacks the query after all (`exact`
 * false: `total` is then an upper bound). Unloaded pages are best first as far as the
 * index tells: the query seemingly in the heading (`inHeadings`), then the newest year,
 * then address.
 * @returns {Promise<{total: number, loaded: boolean, exact: boolean, pages: Array<object>}>}
 */
export async function find(query, { loadAbove = 60 } = {}) {
  const want = terms(query);
  if (!want.length) return { total: 0, loaded: true, exact: true, pages: [] };
  const found = await candidates(want);
  if (found.pages.length <= loadAbove) {
    const results = (await loadPages(found.pages, want)).filter(Boolean).sort(byRelevance);
    return { total: results.length, loaded: true, exact: true, pages: results.map((r) => ({ ...r, load: async () => r })) };
  }
  const { facets } = await meta();
  const headed = await inHeadings(want, found);
  const years = new Map([...new Set(facets.map((f) => f.year))].map((y) => [y, -Number(y)]));
  const pages = found.pages.map((n) => unloaded(n, facets[n], want, { inTitle: headed.has(n) }));
  pages.sort((a, b) => (b.inTitle - a.inTitle) || (years.get(a.year) - years.get(b.year)) || (a.id - b.id));
  return { total: pages.length, loaded: false, exact: exactly(want), pages };
}

/**
 * Every searched page, for browsing without a query (filters and sorting on the search
 * page): each with its facets in site order (newest year first, then region and agency,
 * the agency year before its projects, then address); `load()` fetches its title, URL
 * and the start of its text (`excerpt`, no <mark>).
 * @returns {Promise<{total: number, loaded: boolean, exact: boolean, pages: Array<object>}>}
 */
export async function browse() {
  const { facets } = await meta();
  const pages = facets.map((f, n) => unloaded(n, f, []));
  const rank = (key) => {
    const values = [...new Set(pages.map((p) => p[key]))];
    return new Map(values.map((v) => [v, key === 'year' ? -Number(v) : v]));
  };
  const years = rank('year');
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  pages.sort((a, b) => cmp(years.get(a.year), years.get(b.year))
    || String(a.region ?? '').localeCompare(String(b.region ?? ''), 'zh-CN')
    || String(a.agency ?? '').localeCompare(String(b.agency ?? ''), 'zh-CN')
    || (b.kind === '部门') - (a.kind === '部门') || a.id - b.id);
  return { total: pages.length, loaded: false, exact: true, pages };
}

/** Give every page of `pages` (from `find` or `browse`) its budget, to sort by it: the
 *  budgets of all pages are one file, loaded on first use. */
export async function withBudgets(pages) {
  const budgets = await budgetTable();
  for (const p of pages) p.budget = budgets[p.id] ?? null;
}
