/**
 * The outbox: every field write goes here first (IndexedDB, so it survives a reload, a closed
 * tab and a dead battery), with a client id made once per write and kept with it, and is sent
 * from here when the network is there, in the order it was made. A write the server answers
 * 2xx leaves the outbox; a network error, a 5xx or a 429 is retried with backoff; any other 4xx
 * stays in the outbox as a failed change with the server's message (a 409 as a conflict) for
 * the user to see and dismiss, and the writes after it go on. The server applies a client id at
 * most once, so a write sent twice (a lost answer, two tabs) changes nothing the second time.
 *
 * Generic on purpose: a write is a method, an API path, a JSON body, a client id, a label for
 * the UI and an optional key; a later write with the same key replaces one not sent yet (an
 * edit of a change still on the phone). Each write belongs to the user who made it and is sent
 * only in that user's session.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { ApiError, sendWrite, type WriteMethod } from '../api';
import { csrfToken, loadMe } from '../session';

/** A write waiting in the outbox. */
export interface OutboxEntry {
  /** Order of making (the store's auto-increment key). */
  seq?: number;
  /** The user who made it (login name). */
  user: string;
  method: WriteMethod;
  /** The API path under `/api/`, e.g. `visits`. */
  path: string;
  body: unknown;
  /** Made once for this write; the server applies it at most once. */
  clientId: string;
  /** When the write was made (ISO 8601). */
  created: string;
  /** What the UI calls it, e.g. `走访 · 1 号楼`. */
  label: string;
  /** A later write with the same key replaces this one while it waits. */
  key?: string;
  /** `pending` waits to be sent; `failed` (a 4xx) and `conflict` (a 409) wait for the user. */
  state: 'pending' | 'failed' | 'conflict';
  /** Failed sends so far (network errors and 5xx). */
  attempts: number;
  /** The server's message for a failed or conflicting write. */
  error?: string;
}

/** A write the server has, remembered by key (for the UI: which stops are done). */
export interface SentRecord {
  /** `user|key`. */
  id: string;
  clientId: string;
  body: unknown;
  /** When the server confirmed it (ISO 8601). */
  at: string;
  /** The server's answer (for the UI to show, e.g. where a person moved from). */
  reply?: unknown;
}

interface OutboxDb extends DBSchema {
  outbox: { key: number; value: OutboxEntry; indexes: { user: string; key: string } };
  sent: { key: string; value: SentRecord };
  meta: { key: string; value: string };
}

const DB_NAME = 'rentgrid-field';
let opened: Promise<IDBPDatabase<OutboxDb>> | undefined;

function db(): Promise<IDBPDatabase<OutboxDb>> {
  return (opened ??= openDB<OutboxDb>(DB_NAME, 1, {
    upgrade(d) {
      const outbox = d.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      outbox.createIndex('user', 'user');
      outbox.createIndex('key', 'key');
      d.createObjectStore('sent', { keyPath: 'id' });
      d.createObjectStore('meta');
    },
  }));
}

/** A random RFC 4122 version 4 UUID; `crypto.randomUUID` exists only on HTTPS and localhost, and
 *  phones reach a district server over plain HTTP. */
export function randomUuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const listeners = new Set<() => void>();
/** Other tabs of the same phone hear of changes too. */
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('rentgrid-outbox') : undefined;
channel?.addEventListener('message', () => notify(false));

function notify(broadcast = true): void {
  for (const listener of listeners) listener();
  if (broadcast) channel?.postMessage('changed');
}

/** Calls `listener` whenever the outbox changes (here or in another tab); returns the unsubscribe. */
export function onOutboxChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** What a new write needs; the outbox adds the rest. */
export interface NewWrite {
  user: string;
  method: WriteMethod;
  path: string;
  /** The body, given the write's client id (the API names it in the body). */
  body: (clientId: string) => unknown;
  label: string;
  key?: string;
  /** The client id of a write made before the outbox held it (kept, so a resend replays). */
  clientId?: string;
}

/**
 * Puts a write into the outbox and answers its client id. With a key already waiting, that
 * entry is replaced in place (same client id, same place in the order).
 */
export async function enqueue(w: NewWrite): Promise<string> {
  const d = await db();
  const tx = d.transaction('outbox', 'readwrite');
  const waiting = w.key ? (await tx.store.index('key').getAll(w.key)).find((e) => e.user === w.user && e.state === 'pending') : undefined;
  const clientId = waiting?.clientId ?? w.clientId ?? randomUuid();
  const entry: OutboxEntry = waiting
    ? { ...waiting, body: w.body(clientId), label: w.label, attempts: 0 }
    : {
        user: w.user,
        method: w.method,
        path: w.path,
        body: w.body(clientId),
        clientId,
        created: new Date().toISOString(),
        label: w.label,
        ...(w.key ? { key: w.key } : {}),
        state: 'pending',
        attempts: 0,
      };
  await tx.store.put(entry);
  await tx.done;
  notify();
  void flush(w.user);
  return entry.clientId;
}

/** The user's writes in the outbox, oldest first (pending, failed and conflicting). */
export async function entries(user: string): Promise<OutboxEntry[]> {
  const all = await (await db()).getAllFromIndex('outbox', 'user', user);
  return all.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
}

/** Drops a failed or conflicting write the user has seen. */
export async function dismiss(seq: number): Promise<void> {
  await (await db()).delete('outbox', seq);
  notify();
}

/** What the server confirmed under `key` for `user`, if anything. */
export async function sentRecord(user: string, key: string): Promise<SentRecord | undefined> {
  return (await db()).get('sent', `${user}|${key}`);
}

/** When the user's writes last reached the server (ISO 8601), if ever on this device. */
export async function lastSync(user: string): Promise<string | undefined> {
  return (await db()).get('meta', `lastSync|${user}`);
}

/** Whether a failure is worth another try: the network, the server's own trouble, or too many requests. */
function retryable(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  return error.status >= 500 || error.status === 429 || error.status === 408;
}

/** The wait before try `attempt` (1, 2, …): 1 s doubling to 5 min, with up to 20% jitter. */
export function backoffMs(attempt: number): number {
  const base = Math.min(300_000, 1_000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (1 + Math.random() * 0.2));
}

let timer: ReturnType<typeof setTimeout> | undefined;
let running: Promise<void> | undefined;
let again = false;

/** Whether a send is under way in this page (for tests and the UI). */
export function flushing(): boolean {
  return running !== undefined;
}

/**
 * Sends the user's pending writes in order; runs once at a time per page (and, where the
 * browser has Web Locks, per phone). Resolves when the outbox is empty or a send must wait.
 */
export function flush(user: string): Promise<void> {
  if (running) {
    again = true;
    return running;
  }
  if (timer !== undefined) {
    clearTimeout(timer);
    timer = undefined;
  }
  const work = async () => {
    do {
      again = false;
      await sendAll(user);
    } while (again);
  };
  const locked = navigator.locks ? navigator.locks.request('rentgrid-outbox', work) : work();
  running = Promise.resolve(locked).finally(() => {
    running = undefined;
  });
  return running;
}

async function sendAll(user: string): Promise<void> {
  for (;;) {
    if (!navigator.onLine) return;
    const next = (await entries(user)).find((e) => e.state === 'pending');
    if (!next || next.seq === undefined) return;
    const d = await db();
    let reply: unknown;
    try {
      // A page started offline knows the user but not the session's CSRF token: ask for it
      // (the kept answer, without one, means the server is not reachable yet: try again later).
      if (!csrfToken()) {
        const fresh = await loadMe();
        if (!fresh) return; // signed out: kept for the next login
        if (!fresh.csrf) throw new Error('the session is not confirmed by the server yet');
      }
      reply = await sendWrite(next.method, next.path, next.body);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // signed out: kept for the next login
      if (retryable(error)) {
        const attempts = next.attempts + 1;
        const current = await d.get('outbox', next.seq);
        if (current) await d.put('outbox', { ...current, attempts });
        notify();
        timer = setTimeout(() => void flush(user), backoffMs(attempts));
        return;
      }
      const current = await d.get('outbox', next.seq);
      if (current) {
        await d.put('outbox', {
          ...current,
          state: error instanceof ApiError && error.status === 409 ? 'conflict' : 'failed',
          error: error instanceof Error ? error.message : String(error),
        });
      }
      notify();
      continue;
    }
    const tx = d.transaction(['outbox', 'sent', 'meta'], 'readwrite');
    const current = await tx.objectStore('outbox').get(next.seq);
    // Edited while it was on its way: the edit is a new send of the same client id.
    if (current && JSON.stringify(current.body) === JSON.stringify(next.body)) await tx.objectStore('outbox').delete(next.seq);
    if (next.key) {
      await tx.objectStore('sent').put({ id: `${user}|${next.key}`, clientId: next.clientId, body: next.body, at: new Date().toISOString(), reply });
    }
    await tx.objectStore('meta').put(new Date().toISOString(), `lastSync|${user}`);
    await tx.done;
    notify();
  }
}

/** Starts sending whenever the network comes back; returns the function that stops it. */
export function sendWhenOnline(user: string): () => void {
  const go = () => void flush(user);
  window.addEventListener('online', go);
  go();
  return () => window.removeEventListener('online', go);
}
