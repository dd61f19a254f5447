// The HTTP API of the host that serves this page: same origin, same routes as the CLI uses.
const base = new URL('/api/', window.location.href);
const TIMEOUT_MS = 10000;

/** Server clock minus this browser's clock (ms), from the Date header; 0 until known or when within 2 s. */
let clockOffset = 0;

/** An answer other than 2xx, or no answer: status 0 means the host could not be reached. */
export class ApiError extends Error {
  constructor(status, title, detail, errors) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
  }

  /** The problem's detail plus every field error, as one sentence for a person. */
  get text() {
    const fields = Object.entries(this.errors || {}).flatMap(([path, messages]) => (Array.isArray(messages) ? messages : [messages]).map((m) => `${path}: ${m}`));
    const head = this.status === 0 ? this.detail : `${this.status} ${this.title || ''}: ${this.detail || ''}`.replace(/:\s*$/, '');
    return fields.length > 0 ? `${head} (${fields.join('; ')})` : head;
  }
}

/** Now, on the server's clock (so "next evaluation in 3 s" is right even when this device's clock is off). */
export function serverNow() {
  return Date.now() + clockOffset;
}

async function send(path, init) {
  let response;
  try {
    response = await fetch(new URL(path, base), { cache: 'no-store', ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    throw new ApiError(0, 'Unreachable', error.name === 'TimeoutError' ? 'no answer within 10 s' : 'connection failed');
  }

  const date = Date.parse(response.headers.get('date') || '');
  if (Number.isFinite(date)) {
    const offset = date - Date.now();
    clockOffset = Math.abs(offset) > 2000 ? offset : 0;
  }

  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      // Not problem+json (a proxy's error page, say): the status is all there is.
    }
    throw new ApiError(response.status, problem.title || response.statusText, problem.detail || '', problem.errors);
  }

  return response;
}

/** GET a JSON resource under /api/. */
export async function getJson(path) {
  const response = await send(path, { headers: { accept: 'application/json' } });
  return response.json();
}

/** GET a text resource under /api/ (the release brief). */
export async function getText(path) {
  const response = await send(path, { headers: { accept: 'text/markdown, text/plain' } });
  return response.text();
}

/** POST a command to /api/rollouts/{id}/{kind} with the API key, exactly as the CLI does. */
export async function postCommand(id, kind, body, key) {
  const response = await send(`rollouts/${encodeURIComponent(id)}/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-functions-key': key },
    body: JSON.stringify(body),
  });
  return response.json();
}
