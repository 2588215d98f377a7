// Site search: every page whose main text contains the query, best first (docs/search.md).
//
//   import { search } from '<site root>/assets/search.js';
//   const results = await search('老干部 满意度', { filters: { year: '2020' } });
//   // [{ url: '2020/287002/index.html', title, excerpt, agency, year, region, kind,
//   //    categories, budget, count, inTitle }, …]
//
// A page matches when every space-separated term of the query occurs in its main text
// (case-insensitive; whitespace runs count as one space). `url` is relative to the site
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

/** A metadata value from its sealed word (searchtext.unseal). */
export function unseal(word) {
  let out = '';
  for (let i = 1; i < word.length;) {
    if (word[i] === 'z') { out += String.fromCodePoint(0x10000 + int26(word.slice(i + 1, i + 6))); i += 6; }
    else { out += String.fromCharCode(int26(word.slice(i, i + 4))); i += 4; }
  }
  return out;
}

/** The text of a shadow page's tokens, joined by spaces (searchtext.decode). */
export function decode(content) {
  let out = '';
  for (const tok of String(content).split(' ')) {
    if (!tok) continue;
    if (tok === SPACE) out += ' ';
    else if (/^[a-z]/.test(tok)) {
      const astral = tok[0] === 'z';
      const c = astral ? String.fromCodePoint(0x10000 + int26(tok.slice(1, 6)))
        : String.fromCharCode(int26(tok.slice(0, 4)));
      out += tok.includes('^') ? c.toUpperCase() : c;
    } else out += tok;
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

/** HTML: escaped text around `at` with every term in <mark>. */
function excerpt(text, low, terms, at, around = 40) {
  const s = Math.max(0, at - around);
  const e = Math.min(text.length, at + (terms[0]?.length ?? 0) + around);
  let out = '';
  for (let i = s; i < e;) {
    const t = terms.find((x) => low.startsWith(x, i));
    if (t) { out += `<mark>${esc(text.slice(i, i + t.length))}</mark>`; i += t.length; }
    else { out += esc(text[i]); i++; }
  }
  return (s > 0 ? '…' : '') + out + (e < text.length ? '…' : '');
}

/** The query as the terms a page must contain: lower case, each once. */
export function terms(query) {
  return [...new Set(normText(query).toLowerCase().split(' ').filter(Boolean))];
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
function shape(candidate, d, want) {
  const text = decode(d.content);
  const low = text.toLowerCase();
  const meta = Object.fromEntries(Object.entries(d.meta ?? {}).map(([k, v]) => [k, k === 'title' ? v : unseal(v)]));
  const title = decode(meta.title ?? '');
  // The excerpt shows the first match after the page's heading when there is one: the
  // heading is shown anyway, and the lines above it name the agency on every page.
  const heading = title ? low.indexOf(title.toLowerCase()) : -1;
  const body = heading >= 0 ? heading + title.length : 0;
  let count = 0, whole = 0, at = -1;
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
    excerpt: excerpt(text, low, want, at),
    agency: meta.agency ?? null, year: meta.year ?? null, region: meta.region ?? null,
    kind: meta.kind ?? null, categories: meta.category ? meta.category.split('|') : [],
    budget: meta.budget ? Number(meta.budget) : null,
    count, whole,
    inTitle: want.every((t) => title.toLowerCase().includes(t)),
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
