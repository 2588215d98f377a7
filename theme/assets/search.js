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
// The index (gongkai/index.py) holds each page's text as one token per character: the
// character's code paired with the next one's (gongkai/searchtext.py, kept in step with
// this file). A term is looked up as the pairs at offsets 0, 2, 4… plus its last pair,
// and a page matches where all of them sit at the expected relative positions; each
// page found is then checked against its decoded text, which also gives the excerpt.
// This module resolves everything from its own URL, so the site may live under any path.

const root = new URL('../', import.meta.url);
const bundle = new URL('pagefind/', root);
let pagefindPromise, chunksPromise;

function pagefind() {
  pagefindPromise ??= (async () => {
    // A large site's index comes in parts (gongkai/index.py: one Pagefind process per core),
    // listed in search-parts.json and merged here, so every search covers all of them.
    const parts = fetch(new URL('search-parts.json', bundle)).then((r) => {
      if (!r.ok) throw new Error(`search-parts.json: HTTP ${r.status}`);
      return r.json();
    });
    parts.catch(() => {});   // awaited below; if the import fails first, not an unhandled rejection
    const pf = await import(new URL('pagefind.js', bundle).href);
    // No web worker: the lookups are small, and its script would add 41 KB to the first query.
    await pf.options({ excerptLength: 0, noWorker: true });
    for (const part of await parts) await pf.mergeIndex(new URL(part, bundle).href, { excerptLength: 0 });
    await pf.init();
    return pf;
  })();
  return pagefindPromise;
}

function chunks() {
  chunksPromise ??= fetch(new URL('search-chunks.json', bundle)).then((r) => {
    if (!r.ok) throw new Error(`search-chunks.json: HTTP ${r.status}`);
    return r.json();
  });
  return chunksPromise;
}

// The same whitespace as Python's str.isspace() plus JavaScript's \s (searchtext.norm_text).
const WS = /[\s\x1c-\x1f\x85]+/g;
const SPACE = '\u2423';
const UNPAIRED = 'x';   // after the code of a letter or digit not followed by one
const SPACED = '~';     // on a token whose character the page follows with a space (same block)
const WS1 = /^[\s\x1c-\x1f\x85]$/;
// Same meaning, other code points; applied after NFKC (searchtext.VARIANTS).
const VARIANTS = { '\u2267': '\u2265', '\u2266': '\u2264', '\u2a7e': '\u2265', '\u2a7d': '\u2264' };
const isAlnum = (c) => /^[\p{L}\p{N}]$/u.test(c);
const lower1 = (c) => { const l = c.toLowerCase(); return [...l].length === 1 ? l : c; };
const b26 = (n, width) => {
  let s = '';
  for (let i = 0; i < width; i++) { s = String.fromCharCode(97 + (n % 26)) + s; n = Math.floor(n / 26); }
  return s;
};
const int26 = (s) => [...s].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 97, 0);

/** The code of one character (searchtext.code). */
export function code(c) {
  const cp = lower1(c).codePointAt(0);
  return cp < 0x10000 ? b26(cp, 4) : 'z' + b26(cp - 0x10000, 5);
}

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

/** A metadata value from its sealed word (searchtext.unseal). */
export function unseal(word) {
  let out = '';
  for (let i = 1; i < word.length;) {
    if (word[i] === 'z') { out += String.fromCodePoint(0x10000 + int26(word.slice(i + 1, i + 6))); i += 6; }
    else { out += String.fromCharCode(int26(word.slice(i, i + 4))); i += 4; }
  }
  return out;
}

/** The text of a shadow page's tokens, joined by spaces (searchtext.decode); a block
 *  boundary is `boundary`, a space printed inside a block ' '. */
export function decode(content, boundary = ' ') {
  let out = '';
  for (const tok of String(content).split(' ')) {
    if (!tok) continue;
    if (tok === SPACE) out += boundary;
    else if (/^[a-z]/.test(tok)) {
      const astral = tok[0] === 'z';
      const c = astral ? String.fromCodePoint(0x10000 + int26(tok.slice(1, 6)))
        : String.fromCharCode(int26(tok.slice(0, 4)));
      out += tok.includes('^') ? c.toUpperCase() : c;
      if (tok.endsWith(SPACED)) out += ' ';
    } else {
      const [c, ...rest] = tok;
      out += c + (rest.join('') === SPACED ? ' ' : '');
    }
  }
  return out;
}

// The lookups for one term: [offset, token, prefix]. Offsets count code points, as the
// index counts characters. A run of letters and digits is covered by pairs at offsets
// 0, 2, 4… and its last pair; a one-character run is the character's code: unpaired
// (code + 'x', an exact word) when more of the term follows, a prefix (the character
// followed by anything) at the end of the term.
function plan(term) {
  const cs = [...term];
  const steps = [];
  for (let i = 0; i < cs.length;) {
    if (!isAlnum(cs[i])) { i++; continue; }
    let j = i;
    while (j < cs.length && isAlnum(cs[j])) j++;
    if (j - i === 1) steps.push([i, code(cs[i]) + (j === cs.length ? '' : UNPAIRED), j === cs.length]);
    else {
      for (let k = i; k + 1 < j; k += 2) steps.push([k, code(cs[k]) + code(cs[k + 1]), false]);
      if ((j - i) % 2) steps.push([j - 2, code(cs[j - 2]) + code(cs[j - 1]), false]);
      // more of the term follows: the run must end here in the page too
      if (j < cs.length) steps.push([j - 1, code(cs[j - 1]) + UNPAIRED, false]);
    }
    i = j;
  }
  return steps;
}

// Pagefind loads only the index chunk whose word range holds the searched word, so a
// prefix whose words run on into later chunks misses them: load every chunk it spans.
async function preloadPrefix(pf, token) {
  const hi = token + '\uffff';
  const spans = (await chunks()).filter(([from, to]) => to >= token && from < hi);
  await Promise.all(spans.map(([from]) => pf.preload(from < token ? token : from)));
}

const lookups = new Map();   // token -> Promise<Map(page id -> {pos, res, title})>
function lookup(token, prefix) {
  const key = token + (prefix ? '*' : '');
  if (!lookups.has(key)) {
    const p = (async () => {
      const pf = await pagefind();
      if (prefix) await preloadPrefix(pf, token);
      const found = await pf.search(token);
      const pages = new Map();
      for (const r of found?.results ?? []) {
        pages.set(r.id, { pos: new Set(r.words), res: r, title: !!r.matchedMetaFields?.includes('title') });
      }
      return pages;
    })();
    p.catch(() => lookups.delete(key));
    lookups.set(key, p);
  }
  return lookups.get(key);
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

/** Best first: every term in the title, whole occurrences, all occurrences, Pagefind's
 *  score (favours short pages), URL. */
export function byRelevance(a, b) {
  return (b.inTitle - a.inTitle) || (b.whole - a.whole) || (b.count - a.count)
    || (b.score - a.score) || byUrl(a, b);
}

// Every page holding every indexed term at the right positions: id -> {res, count, score,
// inTitle}. Exact (no false page) for terms of letters and digits only; a term with
// punctuation or spaces is checked on the text afterwards (shape).
async function matchPages(want) {
  let pages = null;
  const indexed = want.filter((t) => plan(t).length);
  if (!indexed.length) {
    // Only punctuation and symbols, which the index leaves out: every page is a candidate.
    const pf = await pagefind();
    const found = await pf.search(null);
    pages = new Map((found?.results ?? []).map((r) => [r.id, { res: r, count: 0, score: 0, inTitle: false }]));
  }
  for (const term of indexed) {
    const steps = plan(term);
    const maps = await Promise.all(steps.map(([, token, prefix]) => lookup(token, prefix)));
    const next = new Map();
    const o0 = steps[0][0];
    for (const [id, { pos, res }] of maps[0]) {
      if (pages && !pages.has(id)) continue;
      if (!maps.every((m) => m.has(id))) continue;
      let count = 0;
      for (const p of pos) {
        if (steps.every(([o], k) => maps[k].get(id).pos.has(p - o0 + o))) count++;
      }
      if (!count) continue;
      const before = pages?.get(id);
      next.set(id, {
        res,
        count: (before?.count ?? 0) + count,
        score: (before?.score ?? 0) + maps.reduce((s, m) => s + m.get(id).res.score, 0),
        inTitle: (before ? before.inTitle : true) && maps.every((m) => m.get(id).title),
      });
    }
    pages = next;
    if (!pages.size) break;
  }
  return pages;
}

// The result for one page from its loaded data, or null when the text lacks a term.
// With no terms (browsing) every page is a result, its excerpt the text after the heading.
function shape(candidate, d, want) {
  const text = decode(d.content, BLOCK);
  const folded = foldMap(text, BLOCK);
  const low = folded[0];
  const meta = Object.fromEntries(Object.entries(d.meta ?? {}).map(([k, v]) => [k, k === 'title' ? v : unseal(v)]));
  const title = decode(meta.title ?? '', ' ');
  const titleLow = foldLow(title);
  // The excerpt shows the first match after the page's heading when there is one: the
  // heading is shown anyway, and the lines above it name the agency on every page.
  const heading = titleLow ? low.indexOf(titleLow) : -1;
  const body = heading >= 0 ? heading + titleLow.length + 1 : 0;
  let count = 0, whole = 0, at = want.length ? -1 : Math.min(body, low.length);
  for (const t of want) {
    const o = occurrences(low, t, body);
    if (!o.all) return null;   // the exact check: punctuation and spaces are not in the index
    count += o.all;
    whole += o.whole;
    if (at < 0) at = o.at;
  }
  return {
    id: candidate.res.id,
    url: String(d.raw_url ?? d.url).replace(/^\/+/, ''),
    title,
    excerpt: excerpt(text, folded, want, at),
    agency: meta.agency ?? null, year: meta.year ?? null, region: meta.region ?? null,
    kind: meta.kind ?? null, categories: meta.category ? meta.category.split('|') : [],
    budget: meta.budget ? Number(meta.budget) : null,
    count, whole,
    inTitle: want.length > 0 && want.every((t) => titleLow.includes(t)),
    score: candidate.score,
  };
}

function checkFilters(filters) {
  for (const key of Object.keys(filters)) if (!FACETS.includes(key)) throw new Error(`unknown filter ${key}`);
}

/**
 * Every page whose main text contains every term of `query`, best first, each with its
 * text loaded (for many results on a large site, see `find`).
 * @param {string} query
 * @param {{filters?: object}} [options]
 * @returns {Promise<Array<{url: string, title: string, excerpt: string, agency: ?string,
 *   year: ?string, region: ?string, kind: ?string, categories: string[], budget: ?number,
 *   count: number, whole: number, inTitle: boolean, score: number, id: string}>>}
 */
export async function search(query, { filters = {} } = {}) {
  checkFilters(filters);
  const want = terms(query);
  if (!want.length) return [];
  const found = [...(await matchPages(want)).values()];
  const datas = await Promise.all(found.map((c) => c.res.data()));
  const results = [];
  datas.forEach((d, i) => {
    const result = shape(found[i], d, want);
    if (result && passes(result, filters)) results.push(result);
  });
  return results.sort(byRelevance);
}

let facetsPromise;
// pagefind/search-pages.json (gongkai/index.py): every page's facets by its id.
function facetTable() {
  facetsPromise ??= fetch(new URL('search-pages.json', bundle)).then((r) => {
    if (!r.ok) throw new Error(`search-pages.json: HTTP ${r.status}`);
    return r.json();
  }).then(({ facets, pages }) => {
    const table = new Map();
    for (const [id, [y, r, a, c, k, budget]] of Object.entries(pages)) {
      table.set(id, {
        year: facets.year[y] ?? null, region: facets.region[r] ?? null, agency: facets.agency[a] ?? null,
        categories: facets.category.filter((_, i) => c & (1 << i)), kind: facets.kind[k] ?? null, budget,
      });
    }
    return table;
  });
  facetsPromise.catch(() => { facetsPromise = undefined; });
  return facetsPromise;
}

/**
 * The same pages as `search`, for showing a few at a time. Up to `loadAbove` pages are
 * loaded as by `search`. Beyond that each page comes with its facets (search-pages.json)
 * and rank signals only, and `load()` fetches the rest, resolving to the full result, or
 * to null for a page whose text lacks the query after all: that can only happen when a
 * term holds punctuation, symbols or spaces, which the index leaves out (`exact` false;
 * `total` is then an upper bound). `pages` are best first (no `whole` signal unloaded).
 * @returns {Promise<{total: number, loaded: boolean, exact: boolean, pages: Array<object>}>}
 */
export async function find(query, { loadAbove = 60 } = {}) {
  const want = terms(query);
  if (!want.length) return { total: 0, loaded: true, exact: true, pages: [] };
  const exact = want.every((t) => [...t].every(isAlnum));
  const matched = await matchPages(want);
  if (matched.size <= loadAbove) {
    const results = await search(query);
    return { total: results.length, loaded: true, exact: true, pages: results.map((r) => ({ ...r, load: async () => r })) };
  }
  const table = await facetTable();
  const pages = [...matched.values()].map((c) => {
    let loading;
    const facets = table.get(c.res.id) ?? { year: null, region: null, agency: null, categories: [], kind: null, budget: null };
    return {
      id: c.res.id, ...facets, count: c.count, whole: 0, inTitle: c.inTitle, score: c.score, url: null,
      load: () => (loading ??= c.res.data().then((d) => shape(c, d, want))),
    };
  });
  pages.sort((a, b) => (b.inTitle - a.inTitle) || (b.count - a.count) || (b.score - a.score)
    || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { total: pages.length, loaded: false, exact, pages };
}

/**
 * Every searched page, for browsing without a query (filters and sorting on the search
 * page): each with its facets (search-pages.json) in site order (newest year first, then
 * region and agency, the agency year before its projects, then address); `load()`
 * fetches its title, URL and the start of its text (`excerpt`, no <mark>).
 * @returns {Promise<{total: number, loaded: boolean, exact: boolean, pages: Array<object>}>}
 */
export async function browse() {
  const table = await facetTable();
  let everything;
  const results = () => {
    everything ??= pagefind().then((pf) => pf.search(null))
      .then((found) => new Map((found?.results ?? []).map((r) => [r.id, r])));
    everything.catch(() => { everything = undefined; });
    return everything;
  };
  const pages = [...table].map(([id, facets], order) => {
    let loading;
    return {
      id, ...facets, order, count: 0, whole: 0, inTitle: false, score: 0, url: null,
      load: () => (loading ??= results().then((all) => {
        const res = all.get(id);
        return res ? res.data().then((d) => shape({ res, score: 0 }, d, [])) : null;
      })),
    };
  });
  const rank = (key) => {
    const values = [...new Set(pages.map((p) => p[key]))];
    return new Map(values.map((v) => [v, key === 'year' ? -Number(v) : v]));
  };
  const years = rank('year');
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  pages.sort((a, b) => cmp(years.get(a.year), years.get(b.year))
    || String(a.region ?? '').localeCompare(String(b.region ?? ''), 'zh-CN')
    || String(a.agency ?? '').localeCompare(String(b.agency ?? ''), 'zh-CN')
    || (b.kind === '部门') - (a.kind === '部门') || a.order - b.order);
  return { total: pages.length, loaded: false, exact: true, pages };
}
