/**
 * The caseworker's phone view (`?view=field&campaign=&caseworker=&date=`): the day's stops in
 * walking order, a one-tap "已走访 / visited" per stop, and the visit form (persons and rental
 * units found, registered on the spot, pledge, hazards, notes). Each submission carries a client
 * id kept on the phone until the server has it, so a retry after a dropped connection never
 * doubles a record.
 */
import { ApiError, fetchRoutes, postVisit, type Campaign, type VisitBody } from '../api';
import { me } from '../session';
import { createUserBar } from '../ui/userbar';

/** The features of a day's routes (none without a campaign or a day). */
type Routes = Pick<Awaited<ReturnType<typeof fetchRoutes>>, 'features'>;
import { dayToShow, loadCampaign, requestedCampaign } from '../layers/campaign';
import { defineStrings, getLang, onLangChange, setLang, t as tApp } from '../i18n';
import { h } from '../ui/dom';
import { mountPlate, printPlatesLink, requestedPlate } from './plate';

const t = defineStrings(
  'field',
  {
    title: '今日走访 · {date}',
    none: '尚无清查行动',
    noStops: '今天没有安排走访',
    caseworker: '综管员',
    visited: '已走访',
    done: '✓ 已记录',
    details: '填写走访情况',
    persons: '发现未登记人数',
    units: '发现未登记出租房（套）',
    registered: '已当场登记',
    pledge: '已签订治安责任保证书',
    hazards: '安全隐患',
    notes: '备注',
    submit: '提交',
    failed: '提交失败，请重试：{detail}',
    held: '会话已过期：这条记录已保存在本机，登录后自动发送。',
    progress: '已走访 {n} / {total} 站',
  },
  {
    title: 'Today’s visits · {date}',
    none: 'No sweep campaign yet',
    noStops: 'No visits planned today',
    caseworker: 'Caseworker',
    visited: 'Visited',
    done: '✓ Recorded',
    details: 'Record what you found',
    persons: 'Unregistered persons found',
    units: 'Unregistered rental units found',
    registered: 'Registered on the spot',
    pledge: 'Safety pledge signed',
    hazards: 'Hazards',
    notes: 'Notes',
    submit: 'Submit',
    failed: 'Not sent, try again: {detail}',
    held: 'Session ended: this visit is kept on this device and sent after you sign in.',
    progress: '{n} of {total} stops visited',
  },
);

interface Stop {
  order: number;
  building: number;
  address: string;
}

/** Pending client ids when the browser keeps no storage. */
const unsaved = new Map<string, string>();

function pendingKey(campaign: number, building: number): string {
  return `rentgrid.visit.${campaign}.${building}`;
}

/** A random RFC 4122 version 4 UUID; `crypto.randomUUID` exists only on HTTPS and localhost, and
 *  phones reach a district server over plain HTTP. */
function randomUuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The client id of a stop's pending submission, kept until the server confirms it. */
function clientId(campaign: number, building: number): string {
  const key = pendingKey(campaign, building);
  let id: string | null = unsaved.get(key) ?? null;
  try {
    id ??= window.localStorage.getItem(key);
  } catch {
    // Storage disabled: the id lives as long as the page.
  }
  if (!id) {
    id = randomUuid();
    unsaved.set(key, id);
    try {
      window.localStorage.setItem(key, id);
    } catch {
      // As above.
    }
  }
  return id;
}

/** Forgets a stop's client id once the server has the visit. */
function sent(campaign: number, building: number): void {
  const key = pendingKey(campaign, building);
  unsaved.delete(key);
  try {
    window.localStorage.removeItem(key);
  } catch {
    // Storage disabled.
  }
}

/** Where visits refused for an ended session wait for the next login, on this device. */
const OUTBOX_KEY = 'rentgrid.outbox';

function readStored<T>(key: string, fallback: T): T {
  try {
    const raw = window.localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : fallback;
  } catch {
    return fallback;
  }
}

function writeStored(key: string, value: unknown): void {
  try {
    if (value === undefined) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage disabled: kept for this page only.
  }
}

/** Keeps a visit (with its client id) for sending after the next login. */
function hold(body: VisitBody): void {
  const outbox = readStored<VisitBody[]>(OUTBOX_KEY, []).filter((b) => b.client_id !== body.client_id);
  writeStored(OUTBOX_KEY, [...outbox, body]);
}

/**
 * Sends the visits held while signed out, each with its own client id (a resend of one the server
 * already has changes nothing). Answers the buildings now recorded.
 */
async function flushOutbox(): Promise<number[]> {
  const sentNow: number[] = [];
  for (const body of readStored<VisitBody[]>(OUTBOX_KEY, [])) {
    try {
      await postVisit(body);
      sentNow.push(body.building_id);
      writeStored(OUTBOX_KEY, readStored<VisitBody[]>(OUTBOX_KEY, []).filter((b) => b.client_id !== body.client_id));
      if (body.campaign_id != null) sent(body.campaign_id, body.building_id);
    } catch {
      // Kept for the next try.
    }
  }
  return sentNow;
}

/** A stop's typed, unsent answers, kept on the device so a reload or a new login keeps them. */
function draftKey(building: number): string {
  return `rentgrid.draft.${building}`;
}

/** Builds the form's visit: found units share the persons found; hazards go into the notes. */
function visitFrom(form: HTMLFormElement, base: VisitBody): VisitBody {
  const data = new FormData(form);
  const units = Math.max(0, Math.floor(Number(data.get('units')) || 0));
  const persons = Math.max(0, Math.floor(Number(data.get('persons')) || 0));
  const registered = data.get('registered') === 'on';
  const pledge = registered && data.get('pledge') === 'on';
  const hazards = String(data.get('hazards') ?? '').trim();
  const notes = [hazards ? `隐患：${hazards}` : '', String(data.get('notes') ?? '').trim()].filter(Boolean).join('；');
  return {
    ...base,
    notes,
    new_units: Array.from({ length: units }, (_, k) => ({
      label: `现场-${k + 1}`,
      tenants: Math.floor(persons / units) + (k < persons % units ? 1 : 0),
      registered,
      pledge_signed: pledge,
    })),
  };
}

/** Mounts the phone view into `root`; returns the function that tears it down. */
export function mountField(root: HTMLElement): () => void {
  let stopped = false;
  const section = h('section', { class: 'rg-field' });
  /** Buildings recorded on this page (kept across a language switch). */
  const done = new Set<number>();
  /** What was typed into each stop's form and not yet sent, by building (kept across redraws). */
  const drafts = new Map<number, Map<string, string | boolean>>();
  const userBar = createUserBar();
  // Opened by scanning a door plate (`?plate=`): what it opens comes first.
  const token = requestedPlate();
  const plate = token ? mountPlate(token) : undefined;
  root.replaceChildren(...(plate ? [plate.element] : []), section);
  const user = me();
  /** Visits held while signed out go first. */
  const flushed = flushOutbox().then((buildings) => {
    for (const b of buildings) {
      done.add(b);
      drafts.delete(b);
      writeStored(draftKey(b), undefined);
    }
  });

  /** The campaign, the day and its routes (for every caseworker), fetched once per page. */
  let data: Promise<{ campaign: Campaign | undefined; date: string; routes: Routes }> | undefined;
  const load = () =>
    (data ??= (async () => {
      const wanted = requestedCampaign();
      const campaign = await loadCampaign(wanted.id);
      const date = campaign ? (dayToShow(campaign, wanted.date) ?? '') : '';
      const routes: Routes = campaign && date ? await fetchRoutes(campaign.id, date) : { features: [] };
      return { campaign, date, routes };
    })());

  const render = async () => {
    await flushed;
    const { campaign, date, routes } = await load();
    if (stopped) return;
    if (!campaign) {
      section.replaceChildren(h('header', { class: 'rg-field-head' }, h('h1', null, t('none')), userBar.element));
      document.documentElement.dataset.ready = '1';
      return;
    }
    const q = new URLSearchParams(window.location.search);
    const workers = [...new Set(routes.features.map((f) => f.properties.caseworker_id))];
    // A caseworker sees their own stops; the command center and supervisors may pick one.
    const own = user?.role === 'caseworker' ? (user.scope.caseworker ?? undefined) : undefined;
    const me = own ?? (Number(q.get('caseworker')) || workers[0]);
    const stops: Stop[] = routes.features
      .filter((f) => f.properties.kind === 'stop' && f.properties.caseworker_id === me)
      .map((f) => ({ order: f.properties.order ?? 0, building: f.properties.building_id ?? 0, address: f.properties.address ?? '' }))
      .sort((a, b) => a.order - b.order);
    const mine = new Set(stops.map((s) => s.building));
    const progress = h('p', { class: 'rg-field-progress' });
    const showProgress = () => {
      progress.textContent = t('progress', { n: [...done].filter((b) => mine.has(b)).length, total: stops.length });
    };
    const select = h('select', { class: 'rg-field-caseworker', 'aria-label': t('caseworker') }, ...workers.map((w) => h('option', { value: w, selected: w === me }, `${t('caseworker')} ${w}`)));
    select.addEventListener('change', () => {
      q.set('caseworker', select.value);
      window.history.replaceState(null, '', `?${q.toString()}`);
      void render();
    });
    const list = h('ol', { class: 'rg-field-stops' });
    for (const stop of stops) {
      const base: VisitBody = { client_id: '', building_id: stop.building, caseworker_id: me, campaign_id: campaign.id };
      const status = h('span', { class: 'rg-field-status', role: 'status' });
      const send = async (body: VisitBody, button: HTMLButtonElement) => {
        button.disabled = true;
        try {
          await postVisit({ ...body, client_id: clientId(campaign.id, stop.building) });
          sent(campaign.id, stop.building);
          drafts.delete(stop.building);
          writeStored(draftKey(stop.building), undefined);
          done.add(stop.building);
          item.classList.add('rg-visited');
          status.textContent = t('done');
          showProgress();
        } catch (error) {
          button.disabled = false;
          if (error instanceof ApiError && error.status === 401) {
            hold({ ...body, client_id: clientId(campaign.id, stop.building) });
            status.textContent = t('held');
            return;
          }
          status.textContent = t('failed', { detail: error instanceof Error ? error.message : String(error) });
        }
      };
      const quick = h('button', { type: 'button', class: 'rg-field-visited' }, t('visited'));
      quick.addEventListener('click', () => void send(base, quick));
      const submit = h('button', { type: 'submit' }, t('submit'));
      const form = h(
        'form',
        { class: 'rg-field-form' },
        h('label', null, t('persons'), h('input', { name: 'persons', type: 'number', min: 0, value: 0, inputmode: 'numeric' })),
        h('label', null, t('units'), h('input', { name: 'units', type: 'number', min: 0, value: 0, inputmode: 'numeric' })),
        h('label', null, h('input', { name: 'registered', type: 'checkbox' }), t('registered')),
        h('label', null, h('input', { name: 'pledge', type: 'checkbox' }), t('pledge')),
        h('label', null, t('hazards'), h('input', { name: 'hazards', type: 'text', maxlength: 200 })),
        h('label', null, t('notes'), h('textarea', { name: 'notes', maxlength: 1000, rows: 2 })),
        submit,
      );
      if (!drafts.has(stop.building)) {
        const stored = readStored<[string, string | boolean][]>(draftKey(stop.building), []);
        if (stored.length) drafts.set(stop.building, new Map(stored));
      }
      for (const [name, value] of drafts.get(stop.building) ?? []) {
        const field = form.elements.namedItem(name);
        if (field instanceof HTMLInputElement && field.type === 'checkbox') field.checked = value === true;
        else if (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) field.value = String(value);
      }
      form.addEventListener('input', (event) => {
        const field = event.target;
        if (!(field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement)) return;
        const draft = drafts.get(stop.building) ?? new Map<string, string | boolean>();
        draft.set(field.name, field instanceof HTMLInputElement && field.type === 'checkbox' ? field.checked : field.value);
        drafts.set(stop.building, draft);
        writeStored(draftKey(stop.building), [...draft]);
      });
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        void send(visitFrom(form, base), submit);
      });
      const item = h(
        'li',
        { class: 'rg-field-stop', 'data-building': stop.building },
        h('div', { class: 'rg-field-row' }, h('span', { class: 'rg-field-order' }, stop.order), h('span', { class: 'rg-field-address' }, stop.address), printPlatesLink(stop.building), quick),
        h('details', null, h('summary', null, t('details')), form),
        status,
      );
      if (done.has(stop.building)) {
        item.classList.add('rg-visited');
        status.textContent = t('done');
      }
      list.append(item);
    }
    showProgress();
    const lang = h('button', { type: 'button', class: 'rg-lang', 'aria-label': tApp('switchLangLabel') }, tApp('switchLang'));
    lang.addEventListener('click', () => setLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
    section.replaceChildren(
      h('header', { class: 'rg-field-head' }, h('h1', null, t('title', { date })), userBar.element, lang),
      ...(own === undefined ? [select] : []),
      progress,
      stops.length ? list : h('p', null, t('noStops')),
    );
    document.documentElement.dataset.ready = '1';
  };

  const show = () =>
    render().catch((error: unknown) => {
      data = undefined; // fetch again on the next redraw
      section.replaceChildren(h('p', { role: 'alert' }, tApp('loadFailed', { detail: error instanceof Error ? error.message : String(error) })));
    });
  void show();
  const off = onLangChange(() => void show());
  return () => {
    stopped = true;
    off();
    plate?.destroy();
    userBar.destroy();
    delete document.documentElement.dataset.ready;
  };
}
