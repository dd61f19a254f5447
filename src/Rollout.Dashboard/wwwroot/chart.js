// The rollout timeline: exposure over time with a band per stage, one marker per decision, and each criterion's
// values against its thresholds and baseline. Hand-written SVG; one SVG unit is one CSS pixel.
import * as f from './format.js';

const NS = 'http://www.w3.org/2000/svg';

/** Marker kinds, in the order the legend lists them, with the words a person reads. */
export const KINDS = [
  ['promote', 'Promoted'],
  ['hold', 'Pass, held'],
  ['fail', 'Fail, held'],
  ['nodata', 'No data, held'],
  ['approval', 'Approval'],
  ['signal', 'Signal'],
  ['pause', 'Paused'],
  ['resume', 'Resumed'],
  ['rollback', 'Rolled back'],
  ['complete', 'Completed'],
  ['start', 'Started'],
];

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) {
      e.setAttribute(k, String(v));
    }
  }
  for (const c of children) {
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** The shape of a marker kind centred on 0,0 (about 12 px across); shapes differ so colour is never the only cue. */
export function symbol(kind) {
  switch (kind) {
    case 'promote':
      return svg('path', { class: 'sym', d: 'M0,-7 L7,5 L-7,5 Z' });
    case 'rollback':
      return svg('path', { class: 'sym', d: 'M-7,-5 L7,-5 L0,7 Z' });
    case 'fail':
      return svg('path', { class: 'sym sym-stroke', d: 'M-5,-5 L5,5 M5,-5 L-5,5' });
    case 'nodata':
      return svg('rect', { class: 'sym sym-hollow', x: -4.5, y: -4.5, width: 9, height: 9 });
    case 'approval':
      return svg('path', { class: 'sym', d: 'M0,-7 L7,0 L0,7 L-7,0 Z' });
    case 'signal':
      return svg('path', { class: 'sym', d: 'M0,-7 L2,-2 L7,-2 L3,1.5 L4.5,7 L0,3.5 L-4.5,7 L-3,1.5 L-7,-2 L-2,-2 Z' });
    case 'pause':
      return svg('path', { class: 'sym', d: 'M-5,-6 h3.5 v12 h-3.5 Z M1.5,-6 h3.5 v12 h-3.5 Z' });
    case 'resume':
      return svg('path', { class: 'sym', d: 'M-5,-6 L6,0 L-5,6 Z' });
    case 'complete':
      return svg('g', { class: 'sym' }, svg('circle', { r: 6.5 }), svg('path', { class: 'check', d: 'M-3.5,0 L-1,2.5 L3.5,-2.5' }));
    case 'start':
      return svg('circle', { class: 'sym sym-hollow', r: 5 });
    default:
      return svg('circle', { class: 'sym', r: 4.5 });
  }
}

/** A small standalone SVG of a kind's marker, for the legend. */
export function swatch(kind) {
  return svg('svg', { class: `swatch kind-${kind}`, width: 16, height: 16, viewBox: '-8 -8 16 16', 'aria-hidden': 'true', focusable: 'false' }, symbol(kind));
}

const byKind = (events, type) => events.filter((e) => e.type === type);

function describeStep(events, context) {
  const first = (type) => events.find((e) => e.type === type);
  const entered = events.find((e) => e.type === 'StageEntered' && (e.details?.index ?? 0) > 0);
  const started = first('Started');
  const evaluated = first('Evaluated');
  const d = (e) => e?.details || {};
  if (first('RolledBack')) {
    const signal = first('SignalReceived');
    return ['rollback', signal ? `Rolled back on signal '${d(signal).signal}'` : `Rolled back by ${first('RolledBack').actor}`];
  }
  if (first('SignalReceived')) {
    const s = d(first('SignalReceived'));
    return ['signal', `Signal '${s.signal}' from ${s.source}: ${s.action}`];
  }
  if (first('Paused')) {
    return ['pause', `Paused by ${first('Paused').actor}`];
  }
  if (first('Resumed')) {
    return ['resume', `Resumed by ${first('Resumed').actor}`];
  }
  if (first('Approved')) {
    const a = first('Approved');
    return ['approval', entered ? `Approved by ${a.actor}; promoted to '${d(entered).stage}'` : `Stage '${d(a).stage}' approved by ${a.actor}`];
  }
  if (first('ApprovalRequested')) {
    return ['approval', `Pass; stage '${d(first('ApprovalRequested')).stage}' awaits approval`];
  }
  if (entered) {
    return ['promote', `Pass; promoted to '${d(entered).stage}'`];
  }
  if (first('Completed')) {
    return ['complete', `Pass; completed in '${d(first('Completed')).stage}'`];
  }
  if (started) {
    const stage = d(first('StageEntered')).stage;
    return ['start', stage ? `Started in '${stage}' by ${started.actor}` : `Started by ${started.actor}`];
  }
  if (evaluated) {
    const e = d(evaluated);
    if (e.outcome === 'Fail') {
      return ['fail', `Fail (${e.consecutiveFailures} in a row); held in '${e.stage}'`];
    }
    if (e.outcome === 'NoData') {
      return ['nodata', `No data (${e.consecutiveNoData} in a row); held in '${e.stage}'`];
    }
    const why = context.paused ? 'paused' : context.awaiting ? 'awaiting approval' : context.bake;
    return ['hold', `Pass; held in '${e.stage}'${why ? ` (${why})` : ''}`];
  }
  return ['hold', events.map((e) => e.type).join(', ')];
}

/**
 * Builds the timeline from the stored plan and the audit log: stages, exposure, decisions (one per step of the
 * engine, i.e. the audit entries written together) and each criterion's values.
 */
export function buildTimeline(rollout, plan, audit, now) {
  const events = [...audit].sort((a, b) => a.seq - b.seq);
  const steps = [];
  for (const e of events) {
    const last = steps[steps.length - 1];
    if (last && last.at === e.at) {
      last.events.push(e);
    } else {
      steps.push({ key: String(e.seq), at: e.at, t: f.ms(e.at), events: [e] });
    }
  }
  // Why a passing check held the stage: paused, awaiting approval, or the bake time not yet over.
  const context = { paused: false, awaiting: false, stageStart: NaN, minDuration: NaN, bake: '' };
  for (const step of steps) {
    const has = (type) => step.events.some((e) => e.type === type);
    const entered = step.events.find((e) => e.type === 'StageEntered');
    if (entered) {
      context.stageStart = step.t;
      context.minDuration = f.timeSpan(plan?.stages?.[entered.details?.index]?.minDuration);
      context.awaiting = false;
    }
    const elapsed = step.t - context.stageStart;
    context.bake = Number.isFinite(context.minDuration) && elapsed < context.minDuration ? `bake time ${f.duration(Math.floor(elapsed / 1000) * 1000)} of ${f.duration(context.minDuration)}` : '';
    [step.kind, step.label] = describeStep(step.events, context);
    const evaluated = step.events.find((e) => e.type === 'Evaluated');
    step.evaluation = evaluated?.details ?? null;
    context.paused = (context.paused || has('Paused')) && !has('Resumed');
    context.awaiting = (context.awaiting || has('ApprovalRequested')) && !has('Approved');
  }

  const terminal = f.isTerminal(rollout.status);
  const lastEventAt = events.length > 0 ? f.ms(events[events.length - 1].at) : f.ms(rollout.updatedAt);
  const start = events.length > 0 ? f.ms(events[0].at) : f.ms(rollout.createdAt);
  let end = terminal ? lastEventAt : Math.max(now, lastEventAt);
  if (!(end - start >= 1000)) {
    end = start + 1000;
  }

  const stages = byKind(events, 'StageEntered').map((e) => ({ index: e.details?.index ?? 0, name: e.details?.stage ?? '?', start: f.ms(e.at), seq: e.seq }));
  stages.forEach((s, i) => {
    s.end = i + 1 < stages.length ? stages[i + 1].start : end;
  });

  const exposure = byKind(events, 'ExposureApplied').map((e) => ({ t: f.ms(e.at), percent: Number(e.details?.percent ?? 0) }));

  const criteria = (plan?.criteria ?? []).map((c) => ({ ...c, points: [] }));
  for (const step of steps) {
    for (const r of step.evaluation?.criteria ?? []) {
      let c = criteria.find((x) => x.name === r.name);
      if (!c) {
        c = { name: r.name, points: [] };
        criteria.push(c);
      }
      c.points.push({ t: step.t, key: step.key, value: r.value ?? null, baseline: r.baseline ?? null, samples: r.samples ?? null, outcome: r.outcome, reason: r.reason });
    }
  }

  return { start, end, now, terminal, stages, exposure, steps, criteria };
}

function niceStep(range, count) {
  const raw = range / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const n = raw / power;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * power;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

function timeTicks(start, end, maxTicks) {
  const step = TIME_STEPS.find((s) => (end - start) / s <= maxTicks) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const offset = new Date(start).getTimezoneOffset() * 60000;
  const ticks = [];
  for (let t = Math.ceil((start - offset) / step) * step + offset; t <= end; t += step) {
    ticks.push(t);
  }
  return { ticks, step };
}

function tickLabel(t, step) {
  const d = new Date(t);
  const two = (n) => String(n).padStart(2, '0');
  if (step >= 86400000) {
    return `${d.getMonth() + 1}/${d.getDate()}`;
  }
  return step >= 60000 ? `${two(d.getHours())}:${two(d.getMinutes())}` : `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * Draws the timeline into `container`. `options.selectedKey` is the selected decision (default: the latest);
 * `options.onSelect(step)` is called when another decision is hovered, clicked, focused or reached with the arrow keys.
 * Returns `select(key, focus)` to change the selection from outside.
 */
export function renderChart(container, model, options) {
  const width = Math.max(280, Math.floor(container.clientWidth || 640));
  const narrow = width < 560;
  const ML = narrow ? 40 : 56;
  const MR = narrow ? 10 : 16;
  const PW = width - ML - MR;
  const x = (t) => ML + ((t - model.start) / (model.end - model.start)) * PW;

  const root = svg('svg', {
    class: 'timeline',
    width,
    viewBox: `0 0 ${width} 100`,
    role: 'group',
    'aria-label': `Timeline from ${f.time(model.start)} to ${f.time(model.end)}: exposure per stage, ${model.steps.length} decisions, ${model.criteria.length} criteria`,
  });
  const back = svg('g', { 'aria-hidden': 'true' });
  const front = svg('g', { 'aria-hidden': 'true' });
  root.append(back, front);

  // Exposure panel.
  const bandsTop = 22;
  const expTop = bandsTop + 24;
  const expH = narrow ? 96 : 128;
  const expBottom = expTop + expH;
  const yE = (p) => expBottom - (p / 100) * expH;
  front.append(svg('text', { class: 'panel-title', x: ML, y: 14 }, narrow ? 'Exposure (% of users)' : 'Exposure (% of users, plus named audiences)'));

  // Decision lane: markers closer than 15 px go to the next row.
  const laneTitleTop = expBottom + 12;
  const laneTop = laneTitleTop + 16;
  const rowsLastX = [];
  const placed = model.steps.map((step) => {
    const px = x(step.t);
    let row = rowsLastX.findIndex((lastX) => px - lastX >= 15);
    if (row < 0) {
      row = rowsLastX.length < 4 ? rowsLastX.length : rowsLastX.indexOf(Math.min(...rowsLastX));
    }
    rowsLastX[row] = px;
    return { step, px, row };
  });
  const laneRows = Math.max(1, rowsLastX.length);
  const laneBottom = laneTop + laneRows * 18;

  // Criterion panels.
  const critH = narrow ? 84 : 104;
  let top = laneBottom + 10;
  const panels = model.criteria.map((c) => {
    // The title names the criterion and its thresholds; on one line when it fits (about 7 px per character).
    const limits = f.thresholds(c);
    const lines = limits && (c.name.length + limits.length + 3) * 7 > PW ? [c.name, limits] : [limits ? `${c.name} — ${limits}` : c.name];
    const head = 8 + lines.length * 14;
    const panel = { c, lines, titleY: top + 14, top: top + head, bottom: top + head + critH };
    top = panel.bottom + 8;
    return panel;
  });
  const bandsBottom = top;
  const height = bandsBottom + 26;
  root.setAttribute('viewBox', `0 0 ${width} ${height}`);
  root.setAttribute('height', height);

  // Stage bands, one per stage entered, across every panel.
  const bands = svg('g', { class: 'stage-bands' });
  back.append(bands);
  model.stages.forEach((s, i) => {
    const x0 = x(s.start);
    const w = Math.max(1, x(s.end) - x0);
    const band = svg('rect', { class: `stage-band ${i % 2 ? 'odd' : 'even'}`, 'data-stage': s.name, 'data-index': s.index, x: x0, y: bandsTop, width: w, height: bandsBottom - bandsTop });
    band.append(svg('title', {}, `Stage ${s.index + 1} '${s.name}' from ${f.time(s.start)} for ${f.duration(s.end - s.start)}`));
    bands.append(band);
    if (i > 0) {
      back.append(svg('line', { class: 'stage-boundary', x1: x0, x2: x0, y1: bandsTop, y2: bandsBottom }));
    }
    const full = s.name;
    const label = full.length * 7 + 8 <= w ? full : `${s.index + 1}`.length * 7 + 6 <= w ? `${s.index + 1}` : '';
    if (label) {
      front.append(svg('text', { class: 'stage-label', x: x0 + 4, y: bandsTop + 15 }, label));
    }
  });

  // Exposure grid, area and step line.
  for (const p of narrow ? [0, 50, 100] : [0, 25, 50, 75, 100]) {
    back.append(svg('line', { class: 'grid', x1: ML, x2: ML + PW, y1: yE(p), y2: yE(p) }));
    front.append(svg('text', { class: 'axis-label', x: ML - 6, y: yE(p) + 4, 'text-anchor': 'end' }, `${p}%`));
  }
  if (model.exposure.length > 0) {
    let d = `M${x(model.exposure[0].t)},${yE(model.exposure[0].percent)}`;
    let lastLabelX = -Infinity;
    let previous = null;
    for (const point of model.exposure) {
      d += ` H${x(point.t)} V${yE(point.percent)}`;
      if (point.percent !== previous && x(point.t) - lastLabelX > 34) {
        const nearEnd = x(point.t) + 40 > ML + PW;
        front.append(svg('text', { class: 'exposure-label', x: x(point.t) + (nearEnd ? -4 : 3), y: yE(point.percent) - 5 < expTop + 10 ? yE(point.percent) + 15 : yE(point.percent) - 5, 'text-anchor': nearEnd ? 'end' : 'start' }, f.percent(point.percent)));
        lastLabelX = x(point.t);
      }
      previous = point.percent;
    }
    d += ` H${x(model.end)}`;
    const area = `${d} V${expBottom} H${x(model.exposure[0].t)} Z`;
    back.append(svg('path', { class: 'exposure-area', d: area }));
    front.append(svg('path', { class: 'exposure-line', d }));
  }

  // Criterion panels: thresholds, baseline, baseline × ratio, and the treatment's values coloured by verdict.
  for (const { c, lines, titleY, top: pTop, bottom } of panels) {
    lines.forEach((line, i) => front.append(svg('text', { class: i === 0 ? 'panel-title' : 'panel-subtitle', x: ML, y: titleY + i * 14 }, line)));
    const values = [];
    for (const p of c.points) {
      values.push(p.value, p.baseline);
      if (c.maxBaselineRatio && p.baseline !== null) {
        values.push(p.baseline * c.maxBaselineRatio);
      }
    }
    values.push(c.max, c.min);
    const finite = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
    let lo = Math.min(0, ...finite);
    let hi = finite.length > 0 ? Math.max(...finite) : 1;
    if (hi <= lo) {
      hi = lo + 1;
    }
    const step = niceStep(hi - lo, narrow ? 2 : 3);
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil((hi + (hi - lo) * 0.08) / step) * step;
    const y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - pTop);
    for (let v = lo; v <= hi + step / 2; v += step) {
      back.append(svg('line', { class: 'grid', x1: ML, x2: ML + PW, y1: y(v), y2: y(v) }));
      front.append(svg('text', { class: 'axis-label', x: ML - 6, y: y(v) + 4, 'text-anchor': 'end' }, f.number(Number(v.toPrecision(6)))));
    }
    for (const [bound, cls] of [[c.max, 'threshold max'], [c.min, 'threshold min']]) {
      if (bound !== null && bound !== undefined) {
        front.append(svg('line', { class: cls, x1: ML, x2: ML + PW, y1: y(bound), y2: y(bound) }));
      }
    }
    const line = (points, cls) => {
      if (points.length > 0) {
        front.append(svg('polyline', { class: cls, points: points.map(([t, v]) => `${x(t)},${y(v)}`).join(' ') }));
      }
    };
    const withBaseline = c.points.filter((p) => p.baseline !== null);
    line(withBaseline.map((p) => [p.t, p.baseline]), 'baseline-line');
    if (c.maxBaselineRatio) {
      line(withBaseline.map((p) => [p.t, p.baseline * c.maxBaselineRatio]), 'ratio-line');
    }
    line(c.points.filter((p) => p.value !== null).map((p) => [p.t, p.value]), 'value-line');
    for (const p of c.points) {
      const cy = p.value === null ? bottom - 5 : y(p.value);
      const kind = p.outcome === 'Fail' ? 'fail' : p.outcome === 'NoData' ? 'nodata' : 'hold';
      const point = svg('g', { class: `criterion-point kind-${kind}`, 'data-key': p.key, 'data-criterion': c.name, 'data-outcome': p.outcome, transform: `translate(${x(p.t)},${cy})` });
      point.append(svg('circle', { class: 'hit', r: 7 }));
      point.append(kind === 'hold' ? svg('circle', { class: 'sym', r: 3.5 }) : kind === 'fail' ? svg('path', { class: 'sym sym-stroke', d: 'M-4,-4 L4,4 M4,-4 L-4,4' }) : svg('rect', { class: 'sym sym-hollow', x: -3.5, y: -3.5, width: 7, height: 7 }));
      point.append(svg('title', {}, `${c.name} ${f.number(p.value)} (${f.outcomeText(p.outcome)}) at ${f.time(p.t)}; baseline ${f.number(p.baseline)}`));
      front.append(point);
    }
  }

  // Time axis and "now".
  const { ticks, step } = timeTicks(model.start, model.end, Math.max(2, Math.floor(PW / (narrow ? 70 : 90))));
  for (const t of ticks) {
    back.append(svg('line', { class: 'tick', x1: x(t), x2: x(t), y1: bandsBottom, y2: bandsBottom + 5 }));
    front.append(svg('text', { class: 'axis-label', x: x(t), y: bandsBottom + 18, 'text-anchor': 'middle' }, tickLabel(t, step)));
  }
  back.append(svg('line', { class: 'axis', x1: ML, x2: ML + PW, y1: bandsBottom, y2: bandsBottom }));
  if (!model.terminal) {
    front.append(svg('line', { class: 'now-line', x1: x(model.end), x2: x(model.end), y1: bandsTop, y2: bandsBottom }));
  }

  // The selection cursor, then the decision markers (the only focusable part: one tab stop, arrows move).
  const cursor = svg('line', { class: 'cursor', x1: 0, x2: 0, y1: bandsTop, y2: bandsBottom, visibility: 'hidden' });
  back.append(cursor);
  front.append(svg('text', { class: 'panel-title', x: ML, y: laneTitleTop + 10 }, 'Decisions'));
  const lane = svg('g', { class: 'decisions' });
  root.append(lane);
  const markers = placed.map(({ step, px, row }) => {
    const g = svg('g', {
      class: `decision kind-${step.kind}`,
      'data-key': step.key,
      'data-kind': step.kind,
      role: 'button',
      tabindex: -1,
      'aria-pressed': 'false',
      'aria-label': `${step.label}, ${f.time(step.t)}`,
      transform: `translate(${px},${laneTop + row * 18 + 9})`,
    });
    g.append(svg('circle', { class: 'hit', r: 9 }), svg('circle', { class: 'focus-ring', r: 10.5 }), symbol(step.kind), svg('title', {}, `${step.label} (${f.time(step.t)})`));
    lane.append(g);
    return g;
  });

  let selected = null;
  const select = (key, focus) => {
    const index = model.steps.findIndex((s) => s.key === key);
    if (index < 0) {
      return;
    }
    markers.forEach((m, i) => {
      m.setAttribute('tabindex', i === index ? '0' : '-1');
      m.setAttribute('aria-pressed', i === index ? 'true' : 'false');
      m.classList.toggle('selected', i === index);
    });
    root.querySelectorAll('.criterion-point').forEach((p) => p.classList.toggle('selected', p.dataset.key === key));
    const cx = x(model.steps[index].t);
    cursor.setAttribute('x1', cx);
    cursor.setAttribute('x2', cx);
    cursor.setAttribute('visibility', 'visible');
    if (focus) {
      markers[index].focus({ preventScroll: false });
    }
    if (selected !== key) {
      selected = key;
      options.onSelect?.(model.steps[index]);
    }
  };

  lane.addEventListener('keydown', (event) => {
    const index = markers.indexOf(event.target.closest?.('.decision'));
    if (index < 0) {
      return;
    }
    const next = { ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1, Home: 0, End: markers.length - 1 }[event.key];
    if (next !== undefined) {
      event.preventDefault();
      select(model.steps[Math.max(0, Math.min(markers.length - 1, next))].key, true);
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      select(model.steps[index].key, false);
    }
  });
  // Focus listeners go on the markers themselves: Chromium makes any SVG element with a focus listener focusable.
  for (const marker of markers) {
    marker.addEventListener('focus', () => select(marker.dataset.key, false));
  }
  root.addEventListener('click', (event) => {
    const target = event.target.closest?.('.decision, .criterion-point');
    if (target) {
      select(target.dataset.key, target.classList.contains('decision'));
    }
  });
  root.addEventListener('pointerover', (event) => {
    const target = event.target.closest?.('.decision, .criterion-point');
    if (target && event.pointerType === 'mouse') {
      select(target.dataset.key, false);
    }
  });

  container.replaceChildren(root);
  const initial = model.steps.find((s) => s.key === options.selectedKey) ?? model.steps[model.steps.length - 1];
  if (initial) {
    selected = initial.key; // The caller shows the evidence of the initial selection itself.
    select(initial.key, false);
  }
  return { select };
}
