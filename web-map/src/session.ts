/**
 * Who is signed in, and the session's CSRF token. The server keeps the session (an `HttpOnly`
 * cookie the page cannot read); the page asks `GET /api/me` who it is and gets the token every
 * write must echo in `X-CSRF-Token`. When the server answers 401 (the session expired or was
 * ended), every listener hears it once, so the app can return to the login page.
 */
import type { components } from './generated/api';

/** `GET /api/me` and `POST /api/login`: the user, their role, what they may see, and the CSRF
 * token of their session. */
export type Me = components['schemas']['Me'];

/** The role names of the API. */
export type Role = Me['role'];

let current: Me | undefined;
const expiredListeners = new Set<() => void>();

/** The signed-in user, once `loadMe` or `login` has answered. */
export function me(): Me | undefined {
  return current;
}

/** The token a write must carry in `X-CSRF-Token` (none before login). */
export function csrfToken(): string | undefined {
  return current?.csrf ?? undefined;
}

/** A failed sign-in, with the server's message (wrong password, account locked…). */
export class LoginError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'LoginError';
  }
}

async function messageOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // Not JSON: the status line below.
  }
  return `${response.status} ${response.statusText}`;
}

const api = (path: string) => new URL(`/api/${path}`, window.location.origin).href;

/** Asks the server who this browser is; `undefined` when no session is alive. */
export async function loadMe(): Promise<Me | undefined> {
  const response = await fetch(api('me'), { headers: { Accept: 'application/json' } });
  if (response.status === 401) {
    current = undefined;
    return undefined;
  }
  if (!response.ok) throw new Error(await messageOf(response));
  current = (await response.json()) as Me;
  return current;
}

/** Signs in; the server sets the session cookie. Throws a `LoginError` with its message. */
export async function login(username: string, password: string): Promise<Me> {
  const response = await fetch(api('login'), {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw new LoginError(response.status, await messageOf(response));
  current = (await response.json()) as Me;
  return current;
}

/** Ends the session on the server (best effort: the page forgets it either way). */
export async function logout(): Promise<void> {
  const token = csrfToken();
  current = undefined;
  await fetch(api('logout'), {
    method: 'POST',
    headers: { Accept: 'application/json', ...(token ? { 'X-CSRF-Token': token } : {}) },
  }).catch(() => undefined);
}

/** Called by the API client when the server answers 401 to a signed-in page. */
export function sessionExpired(): void {
  if (!current) return;
  current = undefined;
  for (const listener of expiredListeners) listener();
}

/** Calls `listener` when the session ends under the page; returns a function that stops it. */
export function onSessionExpired(listener: () => void): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/** The view each role lands on (the query string of the page). */
export function landingQuery(user: Me): string {
  switch (user.role) {
    case 'center':
      return '';
    case 'leader':
      return '?view=leaders';
    case 'supervisor':
      return '?view=coverage';
    case 'caseworker':
      return user.scope.caseworker != null ? `?view=field&caseworker=${user.scope.caseworker}` : '?view=field';
    default:
      return '?view=account';
  }
}

/** The views each role may open; any other view sends them to their landing view. */
export function allowedViews(role: Role): readonly string[] {
  switch (role) {
    case 'center':
      return ['', 'leaders', 'screen', 'coverage', 'campaign', 'assessment', 'field', 'account'];
    case 'supervisor':
      return ['coverage', '', 'screen', 'campaign', 'assessment', 'field', 'account'];
    case 'caseworker':
      return ['field', 'campaign', 'account'];
    case 'leader':
      return ['leaders', 'screen', 'account'];
    default:
      return ['account'];
  }
}
