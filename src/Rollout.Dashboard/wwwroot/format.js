// Formatting shared by the list, the rollout page and the chart. Times are shown in the viewer's time zone.
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const dateFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** Milliseconds since the epoch of an ISO 8601 timestamp, or NaN. */
export function ms(iso) {
  return iso ? Date.parse(iso) : NaN;
}

/** "14:03:07", or "Nov 21 14:03:07" when not today. */
export function time(value) {
  const t = typeof value === 'number' ? value : ms(value);
  if (!Number.isFinite(t)) {
    return '—';
  }
  const d = new Date(t);
  const today = new Date().toDateString() === d.toDateString();
  return today ? timeFormat.format(d) : `${dateFormat.format(d)} ${timeFormat.format(d)}`;
}

/** "45 s", "3 min 5 s", "2 h 5 min", "3 d 4 h". */
export function duration(milliseconds) {
  if (!Number.isFinite(milliseconds)) {
    return '—';
  }
  let s = Math.max(0, Math.round(milliseconds / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) {
    return h > 0 ? `${d} d ${h} h` : `${d} d`;
  }
  if (h > 0) {
    return m > 0 ? `${h} h ${m} min` : `${h} h`;
  }
  if (m > 0) {
    return s > 0 ? `${m} min ${s} s` : `${m} min`;
  }
  return `${s} s`;
}

/** "in 3 s", "3 s ago", "due now". */
export function relative(iso, now) {
  const t = ms(iso);
  if (!Number.isFinite(t)) {
    return '—';
  }
  const delta = t - now;
  if (Math.abs(delta) < 1000) {
    return delta >= 0 ? 'due now' : 'just now';
  }
  return delta > 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`;
}

/** "3 s ago" for something that happened; "just now" within a second (or when the clocks disagree slightly). */
export function ago(iso, now) {
  const t = ms(iso);
  if (!Number.isFinite(t)) {
    return '—';
  }
  return now - t < 1000 ? 'just now' : `${duration(now - t)} ago`;
}

/** A metric value with up to 4 significant digits; "—" when absent. */
export function number(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) {
    return '—';
  }
  const v = Number(value);
  if (v === 0) {
    return '0';
  }
  if (Math.abs(v) >= 10000) {
    return Math.round(v).toLocaleString('en-US');
  }
  return String(Number(v.toPrecision(4)));
}

/** "10%", "0.5%". */
export function percent(value) {
  return `${Number(value ?? 0)}%`;
}

/** A .NET TimeSpan as System.Text.Json writes it ("[-][d.]hh:mm:ss[.fffffff]") in milliseconds. */
export function timeSpan(text) {
  const m = /^(-)?(?:(\d+)\.)?(\d+):(\d+):(\d+)(?:\.(\d+))?$/.exec(text || '');
  if (!m) {
    return NaN;
  }
  const fraction = m[6] ? Number(`0.${m[6]}`) : 0;
  const total = ((Number(m[2] || 0) * 24 + Number(m[3])) * 60 + Number(m[4])) * 60 + Number(m[5]) + fraction;
  return (m[1] ? -1 : 1) * total * 1000;
}

/** Words for a status as the API spells it. */
export function statusText(status) {
  return { Running: 'Running', AwaitingApproval: 'Awaiting approval', Paused: 'Paused', Completed: 'Completed', RolledBack: 'Rolled back' }[status] || status;
}

/** Words for an evaluation outcome. */
export function outcomeText(outcome) {
  return { Pass: 'Pass', Fail: 'Fail', NoData: 'No data' }[outcome] || outcome;
}

/** Words for what a delivery carries (the API's kind). */
export function deliveryKindText(kind) {
  return { Notification: 'Teams card', Exposure: 'Exposure write', GateCallback: 'Azure DevOps gate' }[kind] || kind;
}

/** Words for where a delivery stands (the API's status). */
export function deliveryStatusText(status) {
  return { Pending: 'Pending', Delivered: 'Delivered', Superseded: 'Superseded', Failed: 'Failed' }[status] || status;
}

/** True for Completed and RolledBack. */
export function isTerminal(status) {
  return status === 'Completed' || status === 'RolledBack';
}

/** The thresholds of a plan's criterion in words: "max 0.01 · ≤ 1.5× baseline · n ≥ 100". */
export function thresholds(criterion) {
  if (!criterion) {
    return '';
  }
  const parts = [];
  if (criterion.min !== undefined && criterion.min !== null) {
    parts.push(`min ${number(criterion.min)}`);
  }
  if (criterion.max !== undefined && criterion.max !== null) {
    parts.push(`max ${number(criterion.max)}`);
  }
  if (criterion.maxBaselineRatio !== undefined && criterion.maxBaselineRatio !== null) {
    parts.push(`≤ ${number(criterion.maxBaselineRatio)}× baseline`);
  }
  if (criterion.minSamples > 0) {
    parts.push(`n ≥ ${criterion.minSamples}`);
  }
  return parts.join(' · ');
}
