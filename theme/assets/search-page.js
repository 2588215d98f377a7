// The search page (search/index.html): query box, filters with counts, sorting, results.
// The search itself is assets/search.js; this file only shows it. State lives in the URL
// (?q=…&year=…&region=…&agency=…&category=…&kind=…&sort=…), so a search can be bookmarked,
// shared and reloaded; each filter or sort chosen is a step of the browser's history.
// With no query the filters and the sort browse every page (a list once one is chosen).
// A result links to its page with `#highlight=<query>` (assets/search-mark.js marks the
// first match there). Messages go to one polite status region; focus stays where the user is.

import { browse, find, withBudgets } from './search.js';

const PAGE_SIZE = 50;
const SORTS = new Set(['', 'budget-desc', 'budget-asc']);
const KIND = { 部门: '部门年度绩效目标', 项目: '项目绩效目标表' };
const FILTERS = [
  { key: 'year', all: '全部年度', label: (v) => `${v} 年` },
  { key: 'region', all: '全部地区', label: (v) => v },
  { key: 'agency', all: '全部部门', label: (v) => v },
  { key: 'category', all: '全部一级指标', label: (v) => v },
  { key: 'kind', all: '全部类型', label: (v) => KIND[v] ?? v },
];

const $ = (id) => document.getElementById(id);
const input = $('search-page-q');
const form = input.form;
const ui = $('search-ui');
const status = $('search-status');
const controls = $('search-controls');
const list = $('search-list');
const results = $('search-results');
const more = $('search-more');
const sortSelect = $('search-sort');
const selects = Object.fromEntries(FILTERS.map((f) => [f.key, $(`search-${f.key}`)]));

let state = readUrl();
let all = [];        // every page found for state.q, best first (text loaded on display)
let shown = 0;       // how many of the current list are on the page
let current = [];    // the filtered, sorted list
let runs = 0;        // the latest search; older answers are dropped
let renders = 0;     // the latest list; pages loading for an older one are dropped
let exact = true;    // false: the counts are upper bounds until every page is checked
let budgeted = false; // whether `all` has its budgets (loaded for the first sort by budget)
let timer = 0;

function readUrl() {
  const p = new URLSearchParams(location.search);
  const s = { q: (p.get('q') ?? '').trim(), sort: p.get('sort') ?? '', filters: {} };
  if (!SORTS.has(s.sort)) s.sort = '';
  for (const { key } of FILTERS) {
    const v = p.get(key);
    if (v) s.filters[key] = v;
  }
  return s;
}

function writeUrl(push) {
  const p = new URLSearchParams();
  if (state.q) p.set('q', state.q);
  for (const { key } of FILTERS) if (state.filters[key]) p.set(key, state.filters[key]);
  if (state.sort) p.set('sort', state.sort);
  const query = p.toString();
  const url = location.pathname + (query ? `?${query}` : '');
  if (url !== location.pathname + location.search) history[push ? 'pushState' : 'replaceState'](null, '', url);
}

const has = (r, key, value) => (key === 'category' ? r.categories.includes(value) : r[key] === value);

// Pages found to lack the query once their text was loaded (find() with exact false).
const rejected = new Set();

function matches(r, except) {
  return !rejected.has(r) && FILTERS.every(({ key }) => key === except || !state.filters[key] || has(r, key, state.filters[key]));
}

function sorted(rows) {
  if (!state.sort) return rows;
  const sign = state.sort === 'budget-asc' ? 1 : -1;
  // Stable sort: equal budgets keep their relevance order; pages without a budget go last.
  return [...rows].sort((a, b) => (a.budget === null) - (b.budget === null)
    || (a.budget === null ? 0 : sign * (a.budget - b.budget)));
}

function fillSelect({ key, all: allLabel, label }) {
  const select = selects[key];
  const counts = new Map();
  for (const r of all) {
    if (!matches(r, key)) continue;
    const values = key === 'category' ? r.categories : (r[key] ? [r[key]] : []);
    for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const chosen = state.filters[key];
  if (chosen && !counts.has(chosen)) counts.set(chosen, 0);
  const values = [...counts.keys()].sort((a, b) => (key === 'year' ? b.localeCompare(a) : a.localeCompare(b, 'zh-CN')));
  const total = all.filter((r) => matches(r, key)).length;
  const options = [new Option(`${allLabel}（${total.toLocaleString('zh-CN')}）`, '')];
  for (const v of values) options.push(new Option(`${label(v)}（${counts.get(v).toLocaleString('zh-CN')}）`, v));
  select.replaceChildren(...options);
  select.value = chosen ?? '';
}

function budgetText(r) {
  if (r.budget === null || !Number.isFinite(r.budget)) return '';
  const name = r.kind === '部门' ? '预算合计' : '预算数';
  return `${name} ${r.budget.toLocaleString('zh-CN', { maximumFractionDigits: 2 })} 元`;
}

function item(r) {
  const li = document.createElement('li');
  li.className = 'search-result';
  const h = document.createElement('h3');
  const a = document.createElement('a');
  a.href = `../${r.url}` + (state.q ? `#highlight=${encodeURIComponent(state.q)}` : '');
  a.textContent = r.title || r.url;
  h.append(a);
  const meta = document.createElement('p');
  meta.className = 'search-meta';
  meta.textContent = [KIND[r.kind] ?? '', r.agency ?? '', r.year ? `${r.year} 年` : '', budgetText(r)]
    .filter(Boolean).join(' · ');
  const ex = document.createElement('p');
  ex.className = 'search-excerpt';
  ex.innerHTML = r.excerpt;   // escaped text with <mark> (assets/search.js)
  li.append(h, meta);
  if (r.excerpt) li.append(ex);
  return li;
}

// Load and show the next PAGE_SIZE pages of the current list (pages whose text turns
// out to lack the query are dropped and the next ones loaded instead).
async function showMore(focus) {
  const render = renders;
  more.disabled = true;
  const add = [];
  while (add.length < PAGE_SIZE && shown < current.length) {
    const slice = current.slice(shown, shown + PAGE_SIZE - add.length);
    shown += slice.length;
    const loaded = await Promise.all(slice.map((p) => p.load()));
    if (render !== renders) return;
    loaded.forEach((r, i) => (r ? add.push(item(r)) : rejected.add(slice[i])));
  }
  results.append(...add);
  more.disabled = false;
  more.hidden = shown >= current.length;
  more.textContent = `显示更多结果（还有 ${(current.length - shown).toLocaleString('zh-CN')} 条）`;
  if (focus && add.length) add[0].querySelector('a').focus();
}

function describeFilters() {
  const parts = FILTERS.filter(({ key }) => state.filters[key]).map(({ key, label }) => label(state.filters[key]));
  return parts.length ? `，筛选：${parts.join('、')}` : '';
}

function fail(error) {
  all = [];
  controls.hidden = true;
  list.hidden = true;
  results.replaceChildren();
  status.textContent = '搜索暂时无法使用：未能读取搜索索引。可以在首页的全部部门列表中按年度和地区查找。';
  console.error(error);
}

// No query, no filter, no sort: the filters are offered, no list yet.
const idle = () => !state.q && !state.sort && !Object.keys(state.filters).length;

// Show `all` as the filters and the sort ask; the status line says what is shown.
async function render() {
  const render = ++renders;
  if (state.sort && !budgeted) {
    const pages = all;
    status.textContent = '正在按预算排序…';
    await withBudgets(pages);
    if (render !== renders) return;
    budgeted = pages === all;
  }
  for (const f of FILTERS) fillSelect(f);
  sortSelect.value = state.sort;
  current = idle() ? [] : sorted(all.filter((r) => matches(r)));
  shown = 0;
  results.replaceChildren();
  await showMore(false);
  if (render !== renders) return;
  controls.hidden = all.length === 0;
  list.hidden = results.children.length === 0;
  const n = (x) => x.toLocaleString('zh-CN');
  if (!state.q) {
    const showing = current.length;
    if (idle()) status.textContent = `请输入要搜索的文字，或选择下面的筛选条件或排序方式，浏览全部 ${n(all.length)} 个页面。`;
    else if (!showing) status.textContent = `没有符合条件的页面${describeFilters()}。`;
    else status.textContent = `浏览全部页面：共 ${n(showing)} 条结果${describeFilters()}。`;
    return;
  }
  const q = `“${state.q}”`;
  const total = all.filter((r) => !rejected.has(r)).length;
  const showing = current.filter((r) => !rejected.has(r)).length;
  // Pages are checked as they are shown when there are many: counts are upper bounds until then.
  const about = exact || shown >= current.length ? '' : '约';
  if (!total) status.textContent = `没有找到包含${q}的页面。请检查文字，或减少词语。`;
  else if (showing === total) status.textContent = `${q}共找到${about} ${n(total)} 条结果${describeFilters()}。`;
  else status.textContent = `${q}共找到${about} ${n(total)} 条结果${describeFilters()}，显示其中${about} ${n(showing)} 条。`;
}

const update = () => render().catch(fail);

async function run() {
  const run = ++runs;
  ui.hidden = false;
  status.textContent = state.q ? '正在搜索…' : '正在读取页面列表…';
  try {
    const found = state.q ? await find(state.q) : await browse();
    if (run !== runs) return;
    all = found.pages;
    exact = found.exact;
    budgeted = false;
    rejected.clear();
    await render();
  } catch (error) {
    if (run === runs) fail(error);
  }
}

function setQuery(push) {
  const q = input.value.trim().replace(/\s+/g, ' ');
  if (q === state.q) return false;
  state.q = q;
  writeUrl(push);
  run();
  return true;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearTimeout(timer);
  if (!setQuery(true)) run();
});

input.addEventListener('input', () => {
  clearTimeout(timer);
  timer = setTimeout(() => setQuery(false), 300);
});

for (const { key } of FILTERS) {
  selects[key].addEventListener('change', () => {
    if (selects[key].value) state.filters[key] = selects[key].value;
    else delete state.filters[key];
    writeUrl(true);
    update();
  });
}

sortSelect.addEventListener('change', () => {
  state.sort = SORTS.has(sortSelect.value) ? sortSelect.value : '';
  writeUrl(true);
  update();
});

$('search-reset').addEventListener('click', () => {
  state.filters = {};
  state.sort = '';
  writeUrl(true);
  update();
});

more.addEventListener('click', () => showMore(true).catch(fail));

window.addEventListener('popstate', () => {
  state = readUrl();
  input.value = state.q;
  run();
});

input.value = state.q;
const header = document.getElementById('site-search-q');
if (header && state.q) header.value = state.q;
run();
