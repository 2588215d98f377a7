// The indicator explorer (indicators/index.html; gongkai/render/explorer.py, docs/explorer.md).
// Loads indicators/data/manifest.json, then the parts one after another (progress shown,
// results shown from the first part on); filters, sorts and downloads in the browser. State
// lives in the URL (?year=&region=&agency=&l1=&l2=&l3=&cmp=&num=&min=&minop=&max=&maxop=
// &unit=&measure=&q=&sort=): typing replaces it, a choice pushes it, back/forward restore it.
// A part is {d: [cell texts], r: [flat indexes into d]}, `columns.length + 1` per row (the
// last: the project page). Cells are the CSV's; a text a spreadsheet would run as a formula
// has an apostrophe before it there (kept in the download, dropped on screen).

const PAGE_SIZE = 100;
const FORMULA = new Set(['=', '+', '-', '@', '\t', '\r']);
const TEXT = ['地区', '部门名称', '项目编码', '项目名称', '一级指标（派生）', '二级指标（派生）', '三级指标',
  '绩效指标描述', '指标值', '指标值确定依据', '其他列（原文）'];
const SHOWN = ['年度', '地区', '部门名称', '项目名称', '一级指标（派生）', '二级指标（派生）', '三级指标', '指标值',
  '比较符（派生）', '数值（派生）', '计量单位（派生）', '可衡量性（派生）'];
const KEYS = ['year', 'region', 'agency', 'l1', 'l2', 'l3', 'cmp', 'num', 'min', 'minop', 'max', 'maxop', 'unit',
  'measure', 'q', 'sort'];
const NOT = 'not:';   // measure=not:可衡量 — every class but that one

const $ = (id) => document.getElementById(id);
const ui = $('explorer');
const form = $('ex-form');
const status = $('ex-status');
const load = $('ex-load');
const loaded = $('ex-loaded');
const tbody = $('ex-rows');
const more = $('ex-more');
const caption = $('ex-caption');
const fields = Object.fromEntries(KEYS.map((k) => [k, form.elements.namedItem(k)]).filter(([, el]) => el));

const shownText = (s) => (s.length > 1 && s[0] === "'" && FORMULA.has(s[1]) ? s.slice(1) : s);
const fold = (s) => s.normalize('NFKC').replace(/≧/g, '≥').replace(/≦/g, '≤').toLowerCase();
const collator = new Intl.Collator('zh-CN');

let manifest = null;
let C = {};          // header -> column
let W = 0;           // cells per row
const parts = [];    // loaded parts, in order
let state = readUrl();
let current = [];    // matching rows, as part * 4096 + row, in the chosen order
let shown = 0;
let timer = 0;
let complete = false;

function readUrl() {
  const p = new URLSearchParams(location.search);
  const s = {};
  for (const k of KEYS) {
    const v = (p.get(k) ?? '').trim();
    if (v) s[k] = v;
  }
  return s;
}

function writeUrl(push) {
  const p = new URLSearchParams();
  for (const k of KEYS) if (state[k] && !(k === 'minop' && state[k] === 'ge') && !(k === 'maxop' && state[k] === 'le')) p.set(k, state[k]);
  const q = p.toString();
  const url = location.pathname + (q ? `?${q}` : '');
  if (url !== location.pathname + location.search) history[push ? 'pushState' : 'replaceState'](null, '', url);
}

function readForm() {
  const s = {};
  for (const [k, el] of Object.entries(fields)) {
    const v = el.value.trim();
    if (v) s[k] = v;
  }
  return s;
}

function fillForm() {
  for (const [k, el] of Object.entries(fields)) {
    const v = state[k] ?? (k === 'minop' ? 'ge' : k === 'maxop' ? 'le' : '');
    if (el.tagName === 'SELECT' && v && ![...el.options].some((o) => o.value === v)) el.add(new Option(v, v));
    el.value = v;
  }
}

function fillFacets() {
  for (const el of form.querySelectorAll('select[data-facet]')) {
    const header = el.dataset.facet;
    const values = manifest.facets[header] ?? [];
    const label = header === '年度' ? (v) => `${v} 年` : (v) => v;
    const options = [new Option(`全部（${manifest.rows.toLocaleString('zh-CN')}）`, '')];
    for (const [v, n] of values) options.push(new Option(`${label(v)}（${n.toLocaleString('zh-CN')}）`, v));
    if (header === '可衡量性（派生）' && values.some(([v]) => v === '可衡量')) {
      const others = values.filter(([v]) => v !== '可衡量').reduce((a, [, n]) => a + n, 0);
      options.push(new Option(`可衡量以外的各类（${others.toLocaleString('zh-CN')}）`, `${NOT}可衡量`));
    }
    el.replaceChildren(...options);
  }
}

function number(s) {
  const t = s.trim();
  if (!t || !/^-?\d+(\.\d+)?$/.test(t)) return NaN;
  return Number(t);
}

// One part's test for the current state: per-dictionary marks, then int lookups per row.
function matcher(part) {
  const { d, r } = part;
  if (!part.text) part.text = d.map(shownText);
  const text = part.text;
  const checks = [];
  const mark = (test) => {
    const m = new Uint8Array(d.length);
    for (let i = 0; i < d.length; i++) if (test(text[i])) m[i] = 1;
    return m;
  };
  const folded = () => part.folded ?? (part.folded = text.map(fold));
  const equal = (col, value) => {
    if (col === undefined) return;
    const m = mark((s) => s === value);
    checks.push((o) => m[r[o + col]]);
  };
  const contains = (cols, term) => {
    const f = folded();
    const t = fold(term);
    const m = new Uint8Array(d.length);
    for (let i = 0; i < d.length; i++) if (f[i].includes(t)) m[i] = 1;
    const cs = cols.filter((c) => c !== undefined);
    checks.push((o) => cs.some((c) => m[r[o + c]]));
  };
  if (state.year) equal(C['年度'], state.year);
  if (state.region) equal(C['地区'], state.region);
  if (state.l1) equal(C['一级指标（派生）'], state.l1);
  if (state.l2) equal(C['二级指标（派生）'], state.l2);
  if (state.cmp) equal(C['比较符（派生）'], state.cmp);
  if (state.unit) equal(C['计量单位（派生）'], state.unit);
  if (state.measure && C['可衡量性（派生）'] !== undefined) {
    const col = C['可衡量性（派生）'];
    if (state.measure.startsWith(NOT)) {
      const not = state.measure.slice(NOT.length);
      const m = mark((s) => s !== '' && s !== not);
      checks.push((o) => m[r[o + col]]);
    } else equal(col, state.measure);
  }
  if (state.agency) contains([C['部门名称']], state.agency);
  if (state.l3) contains([C['三级指标']], state.l3);
  if (state.q) for (const term of state.q.split(/\s+/).filter(Boolean)) contains(TEXT.map((h) => C[h]), term);
  const col = C['数值（派生）'];
  const min = state.min ? number(state.min) : NaN;
  const max = state.max ? number(state.max) : NaN;
  if (state.num || !Number.isNaN(min) || !Number.isNaN(max)) {
    if (!part.nums) part.nums = Float64Array.from(text, number);
    const nums = part.nums;
    const gt = state.minop === 'gt';
    const lt = state.maxop === 'lt';
    checks.push((o) => {
      const v = nums[r[o + col]];
      if (state.num === 'none') return Number.isNaN(v);
      if (Number.isNaN(v)) return state.num !== 'has' && Number.isNaN(min) && Number.isNaN(max);
      if (!Number.isNaN(min) && (gt ? v <= min : v < min)) return false;
      if (!Number.isNaN(max) && (lt ? v >= max : v > max)) return false;
      return true;
    });
  }
  return (o) => checks.every((c) => c(o));
}

function matchPart(p) {
  const part = parts[p];
  const test = matcher(part);
  const out = [];
  for (let i = 0, o = 0; i < part.n; i++, o += W) if (test(o)) out.push(p * 4096 + i);
  part.matches = out;
}

const cellOf = (ref, col) => {
  const part = parts[Math.floor(ref / 4096)];
  return part.text[part.r[(ref % 4096) * W + col]];
};
const numOf = (ref) => {
  const part = parts[Math.floor(ref / 4096)];
  if (!part.nums) part.nums = Float64Array.from(part.text, number);
  return part.nums[part.r[(ref % 4096) * W + C['数值（派生）']]];
};

function order(rows) {
  const s = state.sort;
  if (!s) return rows;
  let key;
  if (s === 'num-asc' || s === 'num-desc') {
    const sign = s === 'num-asc' ? 1 : -1;
    return rows.map((ref) => [numOf(ref), ref]).sort((a, b) => (Number.isNaN(a[0]) - Number.isNaN(b[0]))
      || (Number.isNaN(a[0]) ? 0 : sign * (a[0] - b[0])) || a[1] - b[1]).map((x) => x[1]);
  }
  if (s === 'year-asc') key = (ref) => cellOf(ref, C['年度']);
  else if (s === 'agency') key = (ref) => cellOf(ref, C['部门名称']);
  else if (s === 'l3') key = (ref) => cellOf(ref, C['三级指标']);
  else return rows;
  const cmp = s === 'year-asc' ? (a, b) => (a < b ? -1 : a > b ? 1 : 0) : collator.compare;
  return rows.map((ref) => [key(ref), ref]).sort((a, b) => cmp(a[0], b[0]) || a[1] - b[1]).map((x) => x[1]);
}

function collect() {
  current = order(parts.flatMap((p) => p.matches));
}

function row(ref) {
  const tr = document.createElement('tr');
  for (const h of SHOWN) {
    if (C[h] === undefined) continue;
    const td = document.createElement('td');
    td.dataset.label = h;
    const v = cellOf(ref, C[h]);
    if (h === '项目名称') {
      const a = document.createElement('a');
      a.href = `../${cellOf(ref, W - 1)}`;
      a.textContent = v || '（未印项目名称）';
      td.append(a);
    } else {
      td.textContent = v;
      if (h === '指标值' || h === '三级指标') td.className = 'pre';
    }
    tr.append(td);
  }
  return tr;
}

function render() {
  shown = Math.min(PAGE_SIZE, current.length);
  tbody.replaceChildren(...current.slice(0, shown).map(row));
  more.hidden = shown >= current.length;
  caption.textContent = current.length ? `符合条件的绩效指标（显示前 ${shown.toLocaleString('zh-CN')} 条，共 ${current.length.toLocaleString('zh-CN')} 条）`
    : '符合条件的绩效指标（无）';
}

function describe() {
  const total = manifest.rows.toLocaleString('zh-CN');
  const n = current.length.toLocaleString('zh-CN');
  if (!complete) return `正在载入数据（已载入 ${parts.reduce((a, p) => a + p.n, 0).toLocaleString('zh-CN')} 条，共 ${total} 条）；已找到 ${n} 条符合条件的指标。`;
  return current.length ? `共 ${total} 条指标，符合条件的 ${n} 条。` : `共 ${total} 条指标，没有符合条件的指标。`;
}

function apply(announce) {
  for (let p = 0; p < parts.length; p++) matchPart(p);
  collect();
  render();
  if (announce || complete) status.textContent = describe();
  ui.dataset.state = complete ? 'ready' : 'loading';
}

function changed(push) {
  state = readForm();
  writeUrl(push);
  clearTimeout(timer);
  ui.dataset.state = 'busy';
  timer = setTimeout(() => apply(true), push ? 0 : 200);
}

function csvCell(s) {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function download() {
  const lines = [manifest.columns.map(csvCell).join(',')];
  const n = manifest.columns.length;
  for (const ref of current) {
    const part = parts[Math.floor(ref / 4096)];
    const o = (ref % 4096) * W;
    const cells = [];
    for (let c = 0; c < n; c++) cells.push(csvCell(part.d[part.r[o + c]]));
    lines.push(cells.join(','));
  }
  const blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = '绩效指标-筛选结果.csv';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  status.textContent = `已生成 ${current.length.toLocaleString('zh-CN')} 条指标的 CSV 文件${complete ? '' : '（数据尚未全部载入）'}。`;
}

async function fetchJson(path) {
  const response = await fetch(new URL(path, new URL('data/', location.href)));
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function start() {
  ui.hidden = false;
  ui.dataset.state = 'loading';
  status.textContent = '正在载入数据……';
  try {
    manifest = await fetchJson('manifest.json');
  } catch (e) {
    status.textContent = '无法载入指标数据（从本地磁盘打开网站时浏览器不允许载入），请使用下面的绩效指标列表。';
    ui.dataset.state = 'error';
    return;
  }
  C = Object.fromEntries(manifest.columns.map((h, i) => [h, i]));
  W = manifest.columns.length + manifest.extra.length;
  fillFacets();
  fillForm();
  form.addEventListener('submit', (e) => { e.preventDefault(); changed(true); });
  form.addEventListener('input', (e) => { if (e.target.tagName === 'INPUT') changed(false); });
  form.addEventListener('change', (e) => { if (e.target.tagName === 'SELECT') changed(true); });
  $('ex-reset').addEventListener('click', () => { state = {}; fillForm(); changed(true); });
  $('ex-download').addEventListener('click', download);
  more.addEventListener('click', () => {
    const next = Math.min(shown + PAGE_SIZE, current.length);
    const first = tbody.rows.length;
    tbody.append(...current.slice(shown, next).map(row));
    shown = next;
    more.hidden = shown >= current.length;
    caption.textContent = `符合条件的绩效指标（显示前 ${shown.toLocaleString('zh-CN')} 条，共 ${current.length.toLocaleString('zh-CN')} 条）`;
    tbody.rows[first]?.querySelector('a')?.focus();
  });
  window.addEventListener('popstate', () => { state = readUrl(); fillForm(); apply(true); });
  let done = 0;
  let last = 0;
  // Two parts in flight; each is added in order as soon as it and those before it are in.
  const pending = manifest.parts.map((p) => p);
  const results = new Array(pending.length);
  let next = 0;
  let added = 0;
  const take = async () => {
    while (next < pending.length) {
      const i = next++;
      try {
        results[i] = await fetchJson(pending[i].path);
      } catch (e) {
        results[i] = { d: [''], r: [], failed: true };
      }
      while (added < results.length && results[added]) {
        const data = results[added];
        if (data.failed) status.textContent = `第 ${added + 1} 部分数据载入失败，结果不完整。`;
        parts.push({ d: data.d, r: Int32Array.from(data.r), n: data.r.length / W });
        results[added] = true;
        matchPart(added);
        added++;
        done += parts[parts.length - 1].n;
        load.value = done;
        loaded.textContent = `${done.toLocaleString('zh-CN')} / ${manifest.rows.toLocaleString('zh-CN')} 条`;
        const now = performance.now();
        if (added === 1 || now - last > 400 || added === pending.length) {
          last = now;
          complete = added === pending.length;
          collect();
          render();
          status.textContent = describe();
          ui.dataset.state = complete ? 'ready' : 'loading';
        }
      }
    }
  };
  await Promise.all([take(), take()]);
  if (!manifest.parts.length) {
    complete = true;
    apply(true);
  }
}

start();
