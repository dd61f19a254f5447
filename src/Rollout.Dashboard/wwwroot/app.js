// The Rollout dashboard: the list of rollouts (#/) and a rollout's page (#/rollouts/{id}), refreshed every few
// seconds from the host's API. Commands use the same POST routes and API key as the CLI.
import { ApiError, getJson, getText, postCommand, serverNow } from './api.js';
import { buildTimeline, KINDS, renderChart, swatch } from './chart.js';
import * as f from './format.js';
import { renderMarkdown } from './markdown.js';

const REFRESH_MS = 3000;
const AUDIT_ROWS = 200;
const KEY_STORAGE = 'rollout.apiKey';
const ACTOR_STORAGE = 'rollout.actor';

const main = document.getElementById('main');
const updated = document.getElementById('updated');
const banner = document.getElementById('banner');
const toast = document.getElementById('toast');
const forgetKey = document.getElementById('forget-key');

/** Creates an element: attributes (class, text, on…, anything else) and children (nodes or strings). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k === 'text') {
      e.textContent = v;
    } else if (k.startsWith('on') && typeof v === 'function') {
      e.addEventListener(k.slice(2), v);
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  e.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

/** A table cell labelled for the phone layout (where rows become cards); its content is kept in one box. */
function cell(label, cls, ...children) {
  return el('td', { 'data-label': label, class: cls || null }, el('div', { class: 'cell' }, ...children));
}

function badge(status) {
  return el('span', { class: `badge status-${status}`, text: f.statusText(status) });
}

function outcomeBadge(outcome) {
  return el('span', { class: `outcome outcome-${outcome}`, text: f.outcomeText(outcome) });
}

/** Re-renders `fn` while keeping keyboard focus on the element with the same data-focus key. */
function keepingFocus(container, fn) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focus : undefined;
  fn();
  if (key) {
    container.querySelector(`[data-focus="${CSS.escape(key)}"]`)?.focus({ preventScroll: true });
  }
}

// ---- Connection state ------------------------------------------------------------------------------------------

let lastOk = null;
let down = false;

function reportOk() {
  lastOk = Date.now();
  if (down) {
    down = false;
    banner.hidden = true;
    banner.textContent = '';
    showToast('Connection to the host restored.');
  }
  updated.textContent = `Updated ${f.time(lastOk)}`;
  updated.classList.remove('stale');
}

function reportDown(error) {
  const since = lastOk ? `showing data from ${f.time(lastOk)}` : 'nothing loaded yet';
  updated.textContent = lastOk ? `Not updated since ${f.time(lastOk)}` : 'Not loaded';
  updated.classList.add('stale');
  if (!down) {
    down = true;
    banner.hidden = false;
  }
  const why = error instanceof ApiError && error.status === 0 ? `(${error.detail})` : `: ${error.text ?? error.message}`;
  banner.textContent = `Cannot reach the host ${why}. ${since[0].toUpperCase()}${since.slice(1)}; retrying every ${REFRESH_MS / 1000} s.`;
}

let toastTimer = null;
function showToast(text) {
  toast.textContent = text;
  toast.classList.add('visible');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toast.classList.remove('visible'), 6000);
}

// ---- The list -----------------------------------------------------------------------------------------------------

let activeOnly = false;

function lastDecision(r, now) {
  if (r.status === 'RolledBack' || r.status === 'Completed') {
    return el('span', { text: `${f.statusText(r.status)} ${f.ago(r.updatedAt, now)}` });
  }
  if (r.lastEvaluation) {
    return [outcomeBadge(r.lastEvaluation.outcome), ' ', el('span', { class: 'muted', text: f.ago(r.lastEvaluation.at, now) })];
  }
  return el('span', { class: 'muted', text: 'no check yet' });
}

function stageCell(r) {
  const meter = el('span', { class: 'stages-meter', 'aria-hidden': 'true' });
  for (let i = 0; i < r.stageCount; i++) {
    meter.append(el('span', { class: i < r.stageIndex || r.status === 'Completed' ? 'done' : i === r.stageIndex ? 'current' : '' }));
  }
  return [el('span', { text: `${r.stageIndex + 1}/${r.stageCount} ${r.stage}` }), meter];
}

function listView() {
  const count = el('p', { class: 'muted', id: 'list-count' });
  const filter = el('input', {
    type: 'checkbox',
    id: 'active-only',
    onchange: () => {
      activeOnly = filter.checked;
      render();
    },
  });
  filter.checked = activeOnly;
  const body = el('div', { class: 'list' }, el('p', { class: 'muted', text: 'Loading rollouts…' }));
  main.replaceChildren(
    el('div', { class: 'page-head' }, el('h1', { id: 'page-title', tabindex: '-1', text: 'Rollouts' })),
    el('div', { class: 'toolbar' }, el('label', { class: 'check' }, filter, ' Only unfinished rollouts'), count),
    body,
  );
  let list = null;

  function render() {
    if (!list) {
      return;
    }
    const now = serverNow();
    const order = (r) => (f.isTerminal(r.status) ? 1 : 0);
    const shown = list.filter((r) => !activeOnly || !f.isTerminal(r.status)).sort((a, b) => order(a) - order(b));
    const active = list.filter((r) => !f.isTerminal(r.status)).length;
    count.textContent = `${list.length} rollout${list.length === 1 ? '' : 's'}, ${active} unfinished`;
    keepingFocus(body, () => {
      if (shown.length === 0) {
        body.replaceChildren(el('p', { class: 'empty' }, list.length === 0 ? 'No rollouts yet. Start one with ' : 'No unfinished rollouts. ', list.length === 0 ? el('code', { text: 'rollout start plan.json' }) : ''));
        return;
      }
      const head = ['Rollout', 'Status', 'Stage', 'Exposure', 'In stage', 'Next evaluation', 'Last decision'];
      const table = el(
        'table',
        { class: 'rollouts cards' },
        el('caption', { class: 'visually-hidden', text: 'Rollouts, unfinished first, newest first' }),
        el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col', text: h })))),
        el(
          'tbody',
          {},
          shown.map((r) => {
            const terminal = f.isTerminal(r.status);
            return el(
              'tr',
              { 'data-id': r.id, class: terminal ? 'finished' : '' },
              el('th', { scope: 'row', 'data-label': 'Rollout' }, el('a', { href: `#/rollouts/${encodeURIComponent(r.id)}`, 'data-focus': r.id, text: r.name }), el('span', { class: 'sub', text: `${r.flag} · ${r.id}` })),
              cell('Status', 'status-cell', badge(r.status), r.statusReason ? el('span', { class: 'sub reason', title: r.statusReason, text: r.statusReason }) : null),
              cell('Stage', null, stageCell(r)),
              cell('Exposure', 'num', f.percent(r.percent)),
              cell('In stage', 'num', terminal ? '—' : f.duration(now - f.ms(r.stageStartedAt))),
              cell('Next evaluation', 'num', r.nextEvaluationAt ? f.relative(r.nextEvaluationAt, now) : '—'),
              cell('Last decision', null, lastDecision(r, now)),
            );
          }),
        ),
      );
      body.replaceChildren(el('div', { class: 'table-scroll' }, table));
    });
  }

  return {
    title: 'Rollouts',
    async refresh() {
      list = await getJson('rollouts?limit=200');
      render();
    },
  };
}

// ---- A rollout's page -------------------------------------------------------------------------------------------

const ACTIONS = {
  pause: {
    label: 'Pause…',
    confirm: 'Pause',
    title: (r) => `Pause ${r.name}?`,
    consequence: () => 'Exposure stays where it is and nothing is promoted until someone resumes. Checks go on, and the failure limit still rolls back.',
    allowed: (r) => r.status === 'Running' || r.status === 'AwaitingApproval',
    danger: false,
  },
  resume: {
    label: 'Resume…',
    confirm: 'Resume',
    title: (r) => `Resume ${r.name}?`,
    consequence: () => 'The rollout returns to Running and failure and no-data streaks are cleared; the next passing check promotes.',
    allowed: (r) => r.status === 'Paused',
    danger: false,
  },
  approve: {
    label: 'Approve…',
    confirm: 'Approve',
    title: (r) => `Approve stage '${r.stage}' of ${r.name}?`,
    consequence: (r) => `Signs off stage '${r.stage}' on its evidence so far; the rollout moves on to the next stage. Approvers: ${(r.approvers || []).join(', ') || 'none'}.`,
    allowed: (r) => r.status === 'AwaitingApproval',
    danger: false,
  },
  rollback: {
    label: 'Roll back…',
    confirm: 'Roll back',
    title: (r) => `Roll back ${r.name}?`,
    consequence: (r) => `Exposure of flag '${r.flag}' drops to nobody at once and the rollout ends. This cannot be undone: a new rollout starts again from the first stage.`,
    allowed: (r) => !f.isTerminal(r.status),
    danger: true,
  },
};

function fact(term, ...value) {
  return el('div', { class: 'fact' }, el('dt', { text: term }), el('dd', {}, ...value));
}

function wideFact(term, ...value) {
  const e = fact(term, ...value);
  e.classList.add('wide');
  return e;
}

function criteriaTable(criteria, plan) {
  const rows = (criteria || []).map((c) => {
    const planned = plan?.criteria?.find((p) => p.name === c.name);
    return el(
      'tr',
      {},
      el('th', { scope: 'row', text: c.name }),
      cell('Verdict', null, outcomeBadge(c.outcome)),
      cell('Value', 'num', f.number(c.value)),
      cell('Baseline', 'num', f.number(c.baseline)),
      cell('Samples', 'num', c.samples === undefined || c.samples === null ? '—' : String(c.samples)),
      cell('Thresholds', null, f.thresholds(planned) || '—'),
      cell('Reason', 'reason-cell', c.reason || ''),
    );
  });
  return el(
    'div',
    { class: 'table-scroll' },
    el(
      'table',
      { class: 'criteria cards' },
      el('thead', {}, el('tr', {}, ['Criterion', 'Verdict', 'Value', 'Baseline', 'Samples', 'Thresholds', 'Reason'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, rows),
    ),
  );
}

/** One audit entry in words. */
function summary(e) {
  const d = e.details || {};
  switch (e.type) {
    case 'Started':
      return `plan '${d.plan}' for flag '${d.flag}': ${(d.stages || []).join(' → ')}`;
    case 'StageEntered':
      return `stage ${Number(d.index) + 1} '${d.stage}', bake ${d.minDuration}${d.approvalRequired ? ', sign-off required' : ''}`;
    case 'ExposureApplied':
      return d.stage ? `${f.percent(d.percent)} plus the named audiences up to '${d.stage}'` : 'nobody (flag off for everyone)';
    case 'ExposureConfirmed':
      return d.stage ? `the ${d.target} target took the exposure of '${d.stage}'` : `the ${d.target} target took "nobody"`;
    case 'Evaluated':
      return `${f.outcomeText(d.outcome)} in '${d.stage}': ${(d.criteria || []).map((c) => `${c.name}=${f.number(c.value)}${c.samples !== undefined ? ` n=${c.samples}` : ''}`).join(', ')} (failures in a row ${d.consecutiveFailures}, without data ${d.consecutiveNoData})`;
    case 'ApprovalRequested':
      return `stage '${d.stage}' awaits one of ${(d.approvers || []).join(', ')}`;
    case 'Approved':
      return `stage '${d.stage}' approved${d.comment ? `: ${d.comment}` : ''}`;
    case 'Paused':
    case 'RolledBack':
      return `in '${d.stage}': ${d.reason}`;
    case 'Resumed':
      return `in '${d.stage}'${d.reason ? `: ${d.reason}` : ''}`;
    case 'SignalReceived':
      return `'${d.signal}' from ${d.source}${d.message ? `: ${d.message}` : ''} → ${d.action}`;
    case 'Completed':
      return `final stage '${d.stage}' held at ${f.percent(d.percent)}; the rollout took ${Number.isFinite(f.timeSpan(d.duration)) ? f.duration(f.timeSpan(d.duration)) : d.duration}`;
    default:
      return JSON.stringify(d);
  }
}

function evidence(step, plan) {
  if (!step) {
    return [el('p', { class: 'muted', text: 'No decision yet.' })];
  }
  const parts = [el('h3', { id: 'evidence-title' }, swatch(step.kind), ` ${step.label}`), el('p', { class: 'muted', text: `${f.time(step.t)} · audit entries #${step.events[0].seq}–#${step.events[step.events.length - 1].seq}` })];
  const list = el('ul', { class: 'evidence-events' });
  for (const e of step.events) {
    list.append(el('li', {}, el('strong', { text: e.type }), ` by ${e.actor}: ${summary(e)}`));
  }
  parts.push(list);
  const evaluated = step.events.find((e) => e.type === 'Evaluated')?.details;
  const carried = step.events.find((e) => (e.type === 'RolledBack' || e.type === 'ApprovalRequested') && e.details?.evidence)?.details?.evidence;
  if (evaluated) {
    parts.push(criteriaTable(evaluated.criteria, plan));
  } else if (carried) {
    parts.push(el('p', { text: `Evidence: the latest check, at ${f.time(carried.at)}, was ${f.outcomeText(carried.outcome)}.` }), criteriaTable(carried.criteria, plan));
  }
  return parts;
}

function auditRow(e) {
  return el(
    'tr',
    { 'data-seq': e.seq, 'data-type': e.type },
    cell('#', 'num', String(e.seq)),
    cell('Time', 'num', el('time', { datetime: e.at, text: f.time(e.at) })),
    cell('Type', null, e.type),
    cell('Actor', 'actor', e.actor),
    cell('Details', 'details-cell', el('span', { text: summary(e) }), el('details', {}, el('summary', { text: 'JSON' }), el('pre', { text: JSON.stringify(e.details, null, 2) }))),
  );
}

// ---- Deliveries ------------------------------------------------------------------------------------------------

const DELIVERY_STATUSES = ['Pending', 'Failed', 'Delivered', 'Superseded'];

/** What an exposure write carried, from its id (`exposure:{rollout}:{stage index|none}`); '' for the other kinds. */
function deliverySubject(d, plan) {
  const m = d.kind === 'Exposure' ? /:(\d+|none)$/.exec(d.id || '') : null;
  if (!m) {
    return '';
  }
  if (m[1] === 'none') {
    return 'nobody (flag off)';
  }
  const stage = plan?.stages?.[Number(m[1])]?.name;
  return stage ? `stage '${stage}'` : `stage ${Number(m[1]) + 1}`;
}

/** When: the next attempt of a pending delivery, else when it finished; the time it was queued below. */
function deliveryWhen(d, now) {
  const queued = el('span', { class: 'sub', text: `queued ${f.time(d.createdAt)}` });
  if (d.status === 'Pending') {
    return [el('time', { datetime: d.nextAttemptAt, title: f.time(d.nextAttemptAt), text: `next attempt ${f.relative(d.nextAttemptAt, now)}` }), queued];
  }
  return [el('time', { datetime: d.completedAt, text: f.time(d.completedAt) }), queued];
}

function deliveryRow(d, plan, now) {
  const subject = deliverySubject(d, plan);
  const showError = (d.status === 'Pending' || d.status === 'Failed') && d.lastError;
  return el(
    'tr',
    { 'data-id': d.id, 'data-kind': d.kind, 'data-status': d.status },
    el('th', { scope: 'row', 'data-label': 'Kind' }, f.deliveryKindText(d.kind), subject ? el('span', { class: 'sub', text: subject }) : null),
    cell('Target', 'target-cell', d.target),
    cell('Status', null, el('span', { class: `badge status-${d.status}`, text: f.deliveryStatusText(d.status) })),
    cell('Attempts', 'num', String(d.attempts)),
    cell('When', 'num', deliveryWhen(d, now)),
    cell('Last error', 'reason-cell', showError ? el('span', { class: 'delivery-error', text: d.lastError }) : '—'),
  );
}

/** The Deliveries section's content: a table newest first, the empty state, or why the list could not be read. */
function deliveriesContent(list, plan, now) {
  if (list instanceof Error) {
    return [el('p', { class: 'muted', text: `The deliveries could not be read: ${list instanceof ApiError ? list.text : list.message}` })];
  }
  if (list.length === 0) {
    return [el('p', { class: 'empty', text: 'No deliveries: this plan has no Teams channels, gate waiters or external exposure target.' })];
  }
  const counts = DELIVERY_STATUSES.map((s) => [s, list.filter((d) => d.status === s).length]).filter(([, n]) => n > 0);
  const newestFirst = [...list].reverse();
  return [
    el('p', { class: 'muted', text: `${list.length} deliver${list.length === 1 ? 'y' : 'ies'}: ${counts.map(([s, n]) => `${n} ${f.deliveryStatusText(s).toLowerCase()}`).join(', ')}. Payloads are never shown.` }),
    el(
      'div',
      { class: 'table-scroll' },
      el(
        'table',
        { class: 'deliveries cards' },
        el('caption', { class: 'visually-hidden', text: 'Deliveries, newest first' }),
        el('thead', {}, el('tr', {}, ['Kind', 'Target', 'Status', 'Attempts', 'When', 'Last error'].map((h) => el('th', { scope: 'col', text: h })))),
        el('tbody', {}, newestFirst.map((d) => deliveryRow(d, plan, now))),
      ),
    ),
  ];
}

function rolloutView(id) {
  const title = el('h1', { id: 'page-title', tabindex: '-1', text: id });
  const statusLine = el('p', { class: 'status-line' });
  const facts = el('dl', { class: 'facts' });
  const buttons = {};
  const actions = el('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' });
  for (const [kind, a] of Object.entries(ACTIONS)) {
    buttons[kind] = el('button', { type: 'button', id: `action-${kind}`, class: a.danger ? 'danger' : '', disabled: true, text: a.label, onclick: () => openAction(kind) });
    actions.append(buttons[kind]);
  }
  const finishedNote = el('p', { class: 'muted finished-note', hidden: true, text: 'The rollout is finished; it takes no more commands.' });
  actions.append(finishedNote);
  const chart = el('div', { class: 'chart', id: 'chart' });
  const evidencePanel = el('section', { class: 'evidence', id: 'evidence', 'aria-live': 'polite', 'aria-label': 'Selected decision' });
  const legend = el('ul', { class: 'legend', 'aria-label': 'Legend' });
  for (const [kind, words] of KINDS) {
    legend.append(el('li', {}, swatch(kind), ` ${words}`));
  }
  legend.append(
    el('li', {}, el('span', { class: 'line-swatch value', 'aria-hidden': 'true' }), ' value'),
    el('li', {}, el('span', { class: 'line-swatch baseline', 'aria-hidden': 'true' }), ' baseline'),
    el('li', {}, el('span', { class: 'line-swatch ratio', 'aria-hidden': 'true' }), ' baseline × max ratio'),
    el('li', {}, el('span', { class: 'line-swatch threshold', 'aria-hidden': 'true' }), ' min / max'),
  );
  const auditBody = el('tbody');
  const auditCount = el('p', { class: 'muted' });
  let showAllAudit = false;
  const moreAudit = el('button', {
    type: 'button',
    class: 'link-button',
    hidden: true,
    onclick: () => {
      showAllAudit = true;
      limitAudit();
    },
  });
  const deliveries = el('div', { id: 'deliveries' }, el('p', { class: 'muted', text: 'Loading deliveries…' }));
  const brief = el('div', { class: 'brief', id: 'brief' }, el('p', { class: 'muted', text: 'Loading the release brief…' }));

  main.replaceChildren(
    el('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, el('a', { href: '#/', text: 'Rollouts' }), el('span', { 'aria-hidden': 'true', text: ' / ' }), el('span', { 'aria-current': 'page', text: id })),
    el('div', { class: 'page-head' }, title),
    statusLine,
    facts,
    actions,
    el(
      'section',
      { 'aria-labelledby': 'timeline-title', class: 'panel' },
      el('h2', { id: 'timeline-title', text: 'Timeline' }),
      el('p', { class: 'hint', id: 'chart-hint', text: 'Point at a decision or a value, or Tab to the decisions and use the arrow keys: its evidence appears below the chart.' }),
      chart,
      legend,
      evidencePanel,
    ),
    el(
      'section',
      { 'aria-labelledby': 'deliveries-title', class: 'panel' },
      el('h2', { id: 'deliveries-title', text: 'Deliveries' }),
      el('p', { class: 'hint', text: 'Teams cards, writes to the external exposure target and Azure DevOps gate callbacks, retried with backoff until the peer takes them.' }),
      deliveries,
    ),
    el(
      'section',
      { 'aria-labelledby': 'audit-title', class: 'panel' },
      el('h2', { id: 'audit-title', text: 'Audit log' }),
      auditCount,
      el(
        'div',
        { class: 'table-scroll' },
        el('table', { class: 'audit cards', id: 'audit' }, el('caption', { class: 'visually-hidden', text: 'Audit log, newest first' }), el('thead', {}, el('tr', {}, ['#', 'Time', 'Type', 'Actor', 'Details'].map((h) => el('th', { scope: 'col', text: h })))), auditBody),
      ),
      moreAudit,
    ),
    el('section', { 'aria-labelledby': 'brief-title', class: 'panel' }, el('h2', { id: 'brief-title', text: 'Release brief' }), brief),
  );

  const state = { rollout: null, plan: null, deliveries: null, audit: [], lastSeq: 0, selectedKey: null, latestKey: null, model: null, width: 0, done: false };

  function drawChart() {
    if (!state.rollout) {
      return;
    }
    const model = buildTimeline(state.rollout, state.plan, state.audit, serverNow());
    const latest = model.steps[model.steps.length - 1]?.key ?? null;
    if (state.selectedKey === null || state.selectedKey === state.latestKey) {
      state.selectedKey = latest; // Follow the newest decision until the reader picks another one.
    }
    state.latestKey = latest;
    state.model = model;
    const focusedKey = chart.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    const chartApi = renderChart(chart, model, {
      selectedKey: state.selectedKey,
      onSelect: (step) => {
        state.selectedKey = step.key;
        evidencePanel.dataset.key = step.key;
        evidencePanel.replaceChildren(...evidence(step, state.plan));
      },
    });
    state.width = chart.clientWidth;
    if (focusedKey) {
      chartApi.select(focusedKey, true);
    }
    const selected = model.steps.find((s) => s.key === state.selectedKey);
    if (evidencePanel.dataset.key !== String(state.selectedKey) || !selected) {
      evidencePanel.dataset.key = String(state.selectedKey);
      evidencePanel.replaceChildren(...evidence(selected, state.plan));
    }
  }

  new ResizeObserver(() => {
    if (state.model && Math.abs(chart.clientWidth - state.width) > 2) {
      drawChart();
    }
  }).observe(chart);

  function render() {
    const r = state.rollout;
    const now = serverNow();
    title.textContent = r.name;
    document.title = `${r.name} · Rollout`;
    statusLine.replaceChildren(badge(r.status), ` flag `, el('code', { text: r.flag }), ` · ${r.id}`, state.plan?.owner ? ` · owner ${state.plan.owner}` : '', r.statusReason ? el('span', { class: 'reason', text: ` — ${r.statusReason}` }) : '');
    const policy = state.plan?.evaluation;
    const terminal = f.isTerminal(r.status);
    const factList = [
      fact('Stage', `${r.stageIndex + 1} of ${r.stageCount}: ${r.stage}`),
      fact('Exposure', f.percent(r.percent)),
      fact('In stage', terminal ? '—' : f.duration(now - f.ms(r.stageStartedAt))),
      fact('Next evaluation', r.nextEvaluationAt ? f.relative(r.nextEvaluationAt, now) : '—'),
      fact('Last check', r.lastEvaluation ? [outcomeBadge(r.lastEvaluation.outcome), ` ${f.ago(r.lastEvaluation.at, now)}`] : 'none yet'),
      fact('Failures in a row', `${r.consecutiveFailures}${policy ? ` of ${policy.failureLimit}` : ''}`),
      fact('Without data in a row', `${r.consecutiveNoData}${policy ? ` of ${policy.noDataLimit}` : ''}`),
    ];
    if (r.approvers?.length && !terminal) {
      factList.push(wideFact('Approvers of this stage', r.approvers.join(', ')));
    }
    facts.replaceChildren(...factList);
    for (const [kind, a] of Object.entries(ACTIONS)) {
      buttons[kind].disabled = !a.allowed(r);
    }
    finishedNote.hidden = !terminal;
    if (state.deliveries) {
      deliveries.replaceChildren(...deliveriesContent(state.deliveries, state.plan, now));
    }
    drawChart();
  }

  function appendAudit(entries) {
    if (entries.length === 0) {
      return;
    }
    state.audit.push(...entries);
    state.lastSeq = Math.max(state.lastSeq, ...entries.map((e) => e.seq));
    auditBody.prepend(...entries.sort((a, b) => b.seq - a.seq).map(auditRow));
    auditCount.textContent = `${state.audit.length} entries, newest first. Append-only: entries are never changed or removed.`;
    limitAudit();
  }

  function limitAudit() {
    const rows = auditBody.rows;
    for (let i = 0; i < rows.length; i++) {
      rows[i].hidden = !showAllAudit && i >= AUDIT_ROWS;
    }
    moreAudit.hidden = showAllAudit || rows.length <= AUDIT_ROWS;
    moreAudit.textContent = `Show all ${rows.length} entries`;
  }

  async function loadOnce() {
    if (!state.plan) {
      state.plan = await getJson(`rollouts/${encodeURIComponent(id)}/plan`);
    }
    if (brief.dataset.loaded !== 'true') {
      const text = await getText(`rollouts/${encodeURIComponent(id)}/brief`);
      brief.replaceChildren(renderMarkdown(text, 2));
      brief.dataset.loaded = 'true';
    }
  }

  const view = {
    title: id,
    rolloutId: id,
    get rollout() {
      return state.rollout;
    },
    async refresh() {
      if (state.done) {
        return;
      }
      try {
        const [rollout, entries, outbox] = await Promise.all([
          getJson(`rollouts/${encodeURIComponent(id)}`),
          getJson(`rollouts/${encodeURIComponent(id)}/audit?after=${state.lastSeq}`),
          // A failed read of the deliveries is shown in their section; the rest of the page still refreshes.
          getJson(`rollouts/${encodeURIComponent(id)}/deliveries`).catch((error) => error),
        ]);
        await loadOnce();
        state.rollout = rollout;
        state.deliveries = outbox;
        appendAudit(entries.filter((e) => e.seq > state.lastSeq));
        render();
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          state.done = true;
          main.replaceChildren(el('h1', { id: 'page-title', tabindex: '-1', text: 'No such rollout' }), el('p', {}, `There is no rollout '${id}' on this host. `, el('a', { href: '#/', text: 'Back to the list' })));
          return;
        }
        throw error;
      }
    },
  };
  return view;
}

// ---- Commands ------------------------------------------------------------------------------------------------------

const dialog = document.getElementById('action-dialog');
const form = document.getElementById('action-form');
const keyField = document.getElementById('key-field');
const keyInput = document.getElementById('api-key');
const actorInput = document.getElementById('action-actor');
const actorLabel = document.getElementById('action-actor-label');
const actorHint = document.getElementById('action-actor-hint');
const reasonInput = document.getElementById('action-reason');
const errorText = document.getElementById('action-error');
const confirmButton = document.getElementById('action-confirm');
let pending = null;

function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE) || '';
}

function updateKeyButton() {
  forgetKey.hidden = !storedKey();
}

forgetKey.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORAGE);
  updateKeyButton();
  showToast('The API key was forgotten; the next action asks for it again.');
});

function newCommandId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `dashboard-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function showKeyField(show) {
  keyField.hidden = !show;
  keyInput.required = show;
  if (!show) {
    keyInput.value = '';
  }
}

function openAction(kind) {
  const r = view?.rollout;
  if (!r) {
    return;
  }
  const a = ACTIONS[kind];
  pending = { kind, id: r.id, commandId: newCommandId() };
  document.getElementById('action-title').textContent = a.title(r);
  document.getElementById('action-consequence').textContent = a.consequence(r);
  actorLabel.textContent = kind === 'approve' ? 'Approver' : 'Your name';
  actorHint.textContent = kind === 'approve' ? `Must be one of the stage's approvers: ${(r.approvers || []).join(', ')}.` : 'Recorded in the audit log as the actor.';
  actorInput.value = localStorage.getItem(ACTOR_STORAGE) || '';
  reasonInput.value = '';
  errorText.hidden = true;
  errorText.textContent = '';
  confirmButton.textContent = a.confirm;
  confirmButton.className = a.danger ? 'danger' : 'primary';
  confirmButton.disabled = false;
  showKeyField(!storedKey());
  dialog.showModal();
  (keyField.hidden ? (actorInput.value ? reasonInput : actorInput) : keyInput).focus();
}

document.getElementById('action-cancel').addEventListener('click', () => dialog.close());

reasonInput.addEventListener('input', () => reasonInput.setCustomValidity(''));
actorInput.addEventListener('input', () => actorInput.setCustomValidity(''));

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!pending) {
    return;
  }
  for (const [input, words] of [[actorInput, 'Enter your name.'], [reasonInput, 'Enter a reason; it is recorded in the audit log.']]) {
    input.setCustomValidity(input.value.trim() ? '' : words);
  }
  if (!form.reportValidity()) {
    return;
  }
  const key = keyField.hidden ? storedKey() : keyInput.value.trim();
  const actor = actorInput.value.trim();
  const reason = reasonInput.value.trim();
  const { kind, id, commandId } = pending;
  const body = kind === 'approve' ? { approver: actor, comment: reason, commandId } : { actor, reason, commandId };
  confirmButton.disabled = true;
  errorText.hidden = true;
  try {
    const answer = await postCommand(id, kind, body, key);
    sessionStorage.setItem(KEY_STORAGE, key);
    localStorage.setItem(ACTOR_STORAGE, actor);
    updateKeyButton();
    dialog.close();
    showToast(`${ACTIONS[kind].confirm}: ${answer.command?.message ?? answer.command?.status ?? 'done'}`);
    refreshSoon();
  } catch (error) {
    if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
      // The host answered, so it stored the command id with its refusal; a corrected retry needs a new id.
      pending.commandId = newCommandId();
    }
    if (error instanceof ApiError && error.status === 401) {
      sessionStorage.removeItem(KEY_STORAGE);
      updateKeyButton();
      showKeyField(true);
    }
    errorText.textContent = error instanceof ApiError ? error.text : String(error);
    errorText.hidden = false;
    confirmButton.disabled = false;
    (error instanceof ApiError && error.status === 401 ? keyInput : confirmButton).focus();
  }
});

// ---- Routing and refresh ---------------------------------------------------------------------------------------------

let view = null;

/** Refreshes the current view; a refresh still running is joined rather than doubled. */
function refresh() {
  const current = view;
  current.inFlight ??= (async () => {
    try {
      await current.refresh();
      if (current === view) {
        reportOk();
      }
    } catch (error) {
      if (current === view) {
        reportDown(error);
      }
    } finally {
      current.inFlight = null;
    }
  })();
  return current.inFlight;
}

/** Refreshes right after the running refresh, if any (after a command, so its effect shows at once). */
function refreshSoon() {
  const current = view;
  (current.inFlight ?? Promise.resolve()).then(() => {
    if (current === view) {
      refresh();
    }
  });
}

function route(moveFocus) {
  const match = /^#\/rollouts\/([^/]+)$/.exec(window.location.hash);
  view = match ? rolloutView(decodeURIComponent(match[1])) : listView();
  document.title = match ? `${view.title} · Rollout` : 'Rollouts · Rollout';
  if (moveFocus) {
    document.getElementById('page-title')?.focus();
  }
  refresh();
}

window.addEventListener('hashchange', () => route(true));
setInterval(() => {
  if (!document.hidden) {
    refresh();
  }
}, REFRESH_MS);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) {
    refresh();
  }
});
updateKeyButton();
route(false);
