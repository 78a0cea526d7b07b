/**
 * The caseworker's phone view (`?view=field&campaign=&date=`; the command center and
 * supervisors add `&caseworker=`): the day's stops in walking order, a one-tap "已走访 / visited"
 * per stop, and the visit form (persons and rental units found, registered on the spot, pledge,
 * notes; hazards are recorded as cases in the stop's hazard form, which the visit form links). Offline first: every visit goes into the outbox (`offline/outbox.ts`) on the
 * phone and is sent from there when the network is there; the service worker keeps the page,
 * the day's answers and the tiles over the caseworker's grids for when it is not. A stop keeps
 * one visit per day: its client id is made once, a second tap changes the visit still waiting
 * to be sent and never records a second one.
 */
import { ApiError, buildingUnitsPath, campaignVisitsPath, fetchBuildingUnits, fetchCampaignVisits, fetchCoverage, fetchFonts, fetchGrids, fetchRoutes, fetchTileJson, fontCatalogUrl, glyphsUrl, hazardsPath, overduePath, workplacesPath, type Campaign, type VisitBody } from '../api';
import { conflictItem, openConflicts, tc, unitsPanel } from './card';
import { hazardForm, hazardsSection } from './hazards';
import { me } from '../session';
import { createUserBar } from '../ui/userbar';
import { dayToShow, loadCampaign, localToday, requestedCampaign } from '../layers/campaign';
import { defineStrings, getLang, onLangChange, setLang, t as tApp } from '../i18n';
import { h } from '../ui/dom';
import { dismiss, enqueue, entries, lastSync, onOutboxChange, sendWhenOnline, sentRecord, type OutboxEntry } from '../offline/outbox';
import { bboxOf, glyphRangesOf, keepOffline, MAX_OFFLINE_TILES, OFFLINE_LAYERS, OFFLINE_ZOOMS, registerWorker, tilesOver } from '../offline/worker';
import { OVERDUE_LISTED, overdueSection } from './overdue';
import { mountPlate, printPlatesLink, requestedPlate } from './plate';

/** The features of a day's routes (none without a campaign or a day). */
type Routes = Pick<Awaited<ReturnType<typeof fetchRoutes>>, 'features'>;

const t = defineStrings(
  'field',
  {
    title: '今日走访 · {date}',
    buildingVisitLabel: '走访 · 建筑 {building}',
    none: '尚无清查行动',
    noStops: '今天没有安排走访',
    caseworker: '综管员',
    pickCaseworker: '查看哪位综管员的走访',
    visited: '已走访',
    done: '✓ 已记录',
    waiting: '✓ 已保存在本机，待发送',
    details: '填写走访情况',
    persons: '发现未登记人数',
    units: '发现未登记出租房（套）',
    registered: '已当场登记',
    pledge: '已签订治安责任保证书',
    hazards: '发现安全隐患？记录隐患 ›',
    notes: '备注',
    submit: '保存',
    edit: '修改待发送的记录',
    recordedToday: '今天的走访已发送，不能再记一次。',
    personsNeedUnits: '发现了 {n} 名未登记人员：请填写他们住的出租房套数（至少 1 套）。',
    registeredNeedsUnits: '“已当场登记”指本次发现的出租房：请先填写套数。',
    pledgeNeedsRegistered: '签订保证书的出租房须先当场登记：请同时勾选“已当场登记”。',
    progress: '已走访 {n} / {total} 站',
    pending: '待发送 {n} 条',
    lastSync: '上次同步 {time}',
    neverSynced: '尚未同步',
    offline: '离线：记录保存在本机，联网后自动发送',
    failed: '未能保存：{label}：{detail}',
    conflict: '冲突：{label}：{detail}',
    dismiss: '知道了',
    visitLabel: '走访 · 第 {order} 站 {address}',
    offlineReady: '离线可用：{tiles} 张地图切片，共 {mb} MB',
  },
  {
    title: 'Today’s visits · {date}',
    buildingVisitLabel: 'Visit · building {building}',
    none: 'No sweep campaign yet',
    noStops: 'No visits planned today',
    caseworker: 'Caseworker',
    pickCaseworker: 'Whose visits to show',
    visited: 'Visited',
    done: '✓ Recorded',
    waiting: '✓ Saved on this phone, waiting to be sent',
    details: 'Record what you found',
    persons: 'Unregistered persons found',
    units: 'Unregistered rental units found',
    registered: 'Registered on the spot',
    pledge: 'Safety pledge signed',
    hazards: 'Found a hazard? Record it ›',
    notes: 'Notes',
    submit: 'Save',
    edit: 'Change the record waiting to be sent',
    recordedToday: 'Today’s visit has been sent; it is not recorded twice.',
    personsNeedUnits: '{n} unregistered persons found: enter the rental units they live in (at least 1).',
    registeredNeedsUnits: '“Registered on the spot” is about the units found: enter how many first.',
    pledgeNeedsRegistered: 'A pledge is signed for a registered unit: tick “Registered on the spot” too.',
    progress: '{n} of {total} {total|stop|stops} visited',
    pending: '{n} waiting to be sent',
    lastSync: 'last sync {time}',
    neverSynced: 'not synced yet',
    offline: 'Offline: records are kept on this phone and sent when the network is back',
    failed: 'Not saved: {label}: {detail}',
    conflict: 'Conflict: {label}: {detail}',
    dismiss: 'OK',
    visitLabel: 'Visit · stop {order} {address}',
    offlineReady: 'Offline ready: {tiles} map tiles, {mb} MB',
  },
);

interface Stop {
  order: number;
  building: number;
  grid: number;
  address: string;
}

/** What the form holds, by field name. */
type Draft = Map<string, string | boolean>;

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

/**
 * A draft typed before the visit form lost its free-text hazards field (hazards are cases now):
 * the text typed there moves into the notes, as the form used to send it, so nothing typed is lost.
 */
function withoutOldHazards(draft: Draft): Draft {
  const old = draft.get('hazards');
  if (typeof old !== 'string') return draft;
  const moved = new Map(draft);
  moved.delete('hazards');
  const notes = String(draft.get('notes') ?? '').trim();
  if (old.trim()) moved.set('notes', [`隐患：${old.trim()}`, notes].filter(Boolean).join('；'));
  return moved;
}

/** Where a stop's typed, unsent answers are kept on the device (a reload or a new login keeps them). */
function draftKey(user: string, campaign: number, building: number): string {
  return `rentgrid.draft.${user}.${campaign}.${building}`;
}

/** The outbox key of a stop's visit on a day: one visit per stop and day. */
function visitKey(campaign: number, building: number, day: string): string {
  return `visit|${campaign}|${building}|${day}`;
}

/**
 * The form's visit, or the sentence saying why it cannot be one: persons found live in rental
 * units found (so at least one unit), "registered" and the pledge are about those units.
 */
export function visitFrom(data: FormData, base: VisitBody): VisitBody | string {
  const units = Math.max(0, Math.floor(Number(data.get('units')) || 0));
  const persons = Math.max(0, Math.floor(Number(data.get('persons')) || 0));
  const registered = data.get('registered') === 'on';
  const pledge = data.get('pledge') === 'on';
  if (persons > 0 && units === 0) return t('personsNeedUnits', { n: persons });
  if (registered && units === 0) return t('registeredNeedsUnits');
  if (pledge && !registered) return t('pledgeNeedsRegistered');
  return {
    ...base,
    notes: String(data.get('notes') ?? '').trim(),
    new_units: Array.from({ length: units }, (_, k) => ({
      label: `现场-${k + 1}`,
      tenants: Math.floor(persons / units) + (k < persons % units ? 1 : 0),
      registered,
      pledge_signed: pledge,
    })),
  };
}

/** A time as the sync line says it: the clock today, else the date and the clock. */
function when(iso: string): string {
  const d = new Date(iso);
  const clock = d.toLocaleTimeString(getLang(), { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? clock : `${d.toLocaleDateString(getLang())} ${clock}`;
}

/** Visits held in the old local-storage outbox (before IndexedDB) move to the outbox, client ids kept. */
async function adoptOldOutbox(user: string): Promise<void> {
  const old = readStored<VisitBody[]>('rentgrid.outbox', []);
  for (const body of old) {
    await enqueue({ user, method: 'POST', path: 'visits', body: (id) => ({ ...body, client_id: id }), label: t('buildingVisitLabel', { building: body.building_id }), clientId: body.client_id });
  }
  writeStored('rentgrid.outbox', undefined);
}

/** Mounts the phone view into `root`; returns the function that tears it down. */
export function mountField(root: HTMLElement): () => void {
  let stopped = false;
  const section = h('section', { class: 'rg-field' });
  /** What was typed into each stop's form and not yet saved, by building (kept across redraws). */
  const drafts = new Map<number, Draft>();
  const userBar = createUserBar();
  // Opened by scanning a door plate (`?plate=`): what it opens comes first.
  const token = requestedPlate();
  const plate = token ? mountPlate(token) : undefined;
  root.replaceChildren(...(plate ? [plate.element] : []), section);
  const user = me();
  const username = user?.username ?? '';
  const disposers: (() => void)[] = [];
  const adopted = adoptOldOutbox(username).catch(() => undefined);
  disposers.push(sendWhenOnline(username));
  /** Redraws the parts that follow the outbox (statuses, counts); set by each render. */
  let refresh: () => Promise<void> = async () => {};
  disposers.push(onOutboxChange(() => void refresh()));
  const onNetwork = () => void refresh();
  window.addEventListener('online', onNetwork);
  window.addEventListener('offline', onNetwork);
  disposers.push(() => {
    window.removeEventListener('online', onNetwork);
    window.removeEventListener('offline', onNetwork);
  });
  const offlineLine = h('p', { class: 'rg-field-offline-ready' });

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
  /** The caseworkers' names, for the command center's and supervisors' picker. */
  let names: Promise<Map<number, string>> | undefined;
  const loadNames = () =>
    (names ??= fetchCoverage()
      .then((c) => new Map(c.features.flatMap((f) => ('caseworker_id' in f.properties && 'name' in f.properties ? [[f.properties.caseworker_id, f.properties.name] as const] : []))))
      .catch(() => new Map<number, string>()));

  const render = async () => {
    await adopted;
    const { campaign, date, routes } = await load();
    if (stopped) return;
    const lang = h('button', { type: 'button', class: 'rg-lang', 'aria-label': tApp('switchLangLabel') }, tApp('switchLang'));
    lang.addEventListener('click', () => setLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
    if (!campaign) {
      // No stops without a campaign; a caseworker's overdue buildings all the same.
      const mine = user?.role === 'caseworker' ? (user.scope.caseworker ?? undefined) : undefined;
      section.replaceChildren(h('header', { class: 'rg-field-head' }, h('h1', null, t('none')), userBar.element, lang), ...(mine === undefined ? [] : [overdueSection(mine)]));
      document.documentElement.dataset.ready = '1';
      return;
    }
    const q = new URLSearchParams(window.location.search);
    const workers = [...new Set(routes.features.map((f) => f.properties.caseworker_id))].sort((a, b) => a - b);
    // A caseworker sees their own stops (from their account); the command center and
    // supervisors pick a caseworker by name.
    const own = user?.role === 'caseworker' ? (user.scope.caseworker ?? undefined) : undefined;
    const cw = own ?? (workers.includes(Number(q.get('caseworker'))) ? Number(q.get('caseworker')) : workers[0]);
    const stops: Stop[] = routes.features
      .filter((f) => f.properties.kind === 'stop' && f.properties.caseworker_id === cw)
      .map((f) => ({ order: f.properties.order ?? 0, building: f.properties.building_id ?? 0, grid: f.properties.grid_id ?? 0, address: f.properties.address ?? '' }))
      .sort((a, b) => a.order - b.order);

    // The stops the server holds a visit of today for (after a reload, or from another phone);
    // offline, the kept answer, and what this phone sent since.
    const today = localToday();
    const onServer = new Set(
      cw === undefined
        ? []
        : await fetchCampaignVisits(campaign.id, today, cw)
            .then((v) => v.visits.map((x) => x.building_id))
            .catch(() => []),
    );
    if (stopped) return;
    const sync = h('p', { class: 'rg-field-sync', role: 'status' });
    const problems = h('ul', { class: 'rg-field-problems' });
    const progress = h('p', { class: 'rg-field-progress' });
    const list = h('ol', { class: 'rg-field-stops' });
    /** Each stop's redraw from the outbox and what the server confirmed. */
    const updaters: ((waiting: Map<string, OutboxEntry>) => Promise<boolean>)[] = [];
    /** The open household cards' redraws. */
    const cardRedraws: (() => Promise<void>)[] = [];
    const conflictsBox = h('section', { class: 'rg-field-conflicts' });
    let conflictsShown = '';
    const showConflicts = async () => {
      if (!navigator.onLine) return;
      const open = await openConflicts();
      const ids = open.map((c) => c.id).join(',');
      if (stopped || ids === conflictsShown) return;
      conflictsShown = ids;
      conflictsBox.replaceChildren(...(open.length ? [h('h2', null, tc('conflicts', { n: open.length })), h('ul', { class: 'rg-conflicts' }, ...open.map((c) => conflictItem(c, username)))] : []));
    };

    for (const stop of stops) {
      const key = visitKey(campaign.id, stop.building, today);
      const label = t('visitLabel', { order: stop.order, address: stop.address });
      const base: VisitBody = {
        client_id: '',
        building_id: stop.building,
        caseworker_id: cw ?? null,
        campaign_id: campaign.id,
        visited_on: today,
        notes: '',
        new_units: [],
      };
      const status = h('span', { class: 'rg-field-status', role: 'status' });
      const message = h('p', { class: 'rg-field-message', role: 'alert', hidden: true });
      const dKey = draftKey(username, campaign.id, stop.building);
      const save = async (body: VisitBody) => {
        await enqueue({ user: username, method: 'POST', path: 'visits', key, label, body: (id) => ({ ...body, client_id: id }) });
        drafts.delete(stop.building);
        writeStored(dKey, undefined);
      };
      const quick = h('button', { type: 'button', class: 'rg-field-visited' }, t('visited'));
      quick.addEventListener('click', () => void save(base));
      const submit = h('button', { type: 'submit', class: 'rg-field-submit' }, t('submit'));
      // A hazard is a case with a kind, a severity and a deadline: the stop's hazard form records it.
      const hazard = hazardForm(stop, username, {
        units: async () => (await fetchBuildingUnits(stop.building)).units,
      });
      const toHazard = h('button', { type: 'button', class: 'rg-field-to-hazard' }, t('hazards'));
      toHazard.addEventListener('click', () => {
        if (hazard instanceof HTMLDetailsElement) hazard.open = true;
        hazard.scrollIntoView({ block: 'nearest' });
        hazard.querySelector<HTMLSelectElement>('select[name=kind]')?.focus();
      });
      const form = h(
        'form',
        { class: 'rg-field-form', novalidate: true },
        h('label', null, t('persons'), h('input', { name: 'persons', type: 'number', min: 0, value: 0, inputmode: 'numeric' })),
        h('label', null, t('units'), h('input', { name: 'units', type: 'number', min: 0, value: 0, inputmode: 'numeric' })),
        h('label', { class: 'rg-field-check' }, h('input', { name: 'registered', type: 'checkbox' }), t('registered')),
        h('label', { class: 'rg-field-check' }, h('input', { name: 'pledge', type: 'checkbox' }), t('pledge')),
        toHazard,
        h('label', null, t('notes'), h('textarea', { name: 'notes', maxlength: 1000, rows: 2 })),
        message,
        submit,
      );
      if (!drafts.has(stop.building)) {
        const stored = readStored<[string, string | boolean][]>(dKey, []);
        if (stored.length) {
          const draft = withoutOldHazards(new Map(stored));
          drafts.set(stop.building, draft);
          if (stored.some(([name]) => name === 'hazards')) writeStored(dKey, [...draft]);
        }
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
        writeStored(dKey, [...draft]);
        message.hidden = true;
      });
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const visit = visitFrom(new FormData(form), base);
        if (typeof visit === 'string') {
          message.textContent = visit;
          message.hidden = false;
          return;
        }
        message.hidden = true;
        void save(visit);
      });
      const details = h('details', { class: 'rg-field-visit' }, h('summary', null, t('details')), form);
      const units = unitsPanel(stop, username, (redraw) => cardRedraws.push(redraw));
      const item = h(
        'li',
        { class: 'rg-field-stop', 'data-building': stop.building },
        h('div', { class: 'rg-field-row' }, h('span', { class: 'rg-field-order' }, stop.order), h('span', { class: 'rg-field-address' }, stop.address), printPlatesLink(stop.building), quick),
        details,
        units,
        hazard,
        status,
      );
      updaters.push(async (waiting) => {
        const queued = waiting.get(key);
        const sent = queued ? undefined : onServer.has(stop.building) || (await sentRecord(username, key));
        const state = queued?.state === 'pending' ? 'waiting' : sent ? 'sent' : 'none';
        item.dataset.state = state;
        item.classList.toggle('rg-visited', state !== 'none');
        quick.disabled = state !== 'none';
        quick.textContent = state === 'none' ? t('visited') : t('done');
        status.textContent = state === 'waiting' ? t('waiting') : state === 'sent' ? t('done') : '';
        // A visit still on the phone can be changed; one the server has is today's visit.
        submit.textContent = state === 'waiting' ? t('edit') : t('submit');
        submit.disabled = state === 'sent';
        if (state === 'sent') {
          message.textContent = t('recordedToday');
          message.hidden = false;
        }
        return state !== 'none';
      });
      list.append(item);
    }

    const hazards = hazardsSection(username, user?.role, cw, (redraw) => cardRedraws.push(redraw));

    refresh = async () => {
      const all = await entries(username);
      if (stopped) return;
      const waiting = new Map(all.filter((e) => e.key && e.state === 'pending').map((e) => [e.key!, e]));
      const done = await Promise.all(updaters.map((u) => u(waiting)));
      await Promise.all(cardRedraws.map((r) => r()));
      if (!all.some((e) => e.state === 'pending')) void showConflicts();
      progress.textContent = t('progress', { n: done.filter(Boolean).length, total: stops.length });
      const pending = all.filter((e) => e.state === 'pending').length;
      const synced = await lastSync(username);
      sync.dataset.pending = String(pending);
      sync.replaceChildren(
        h('span', { class: 'rg-field-pending' }, t('pending', { n: pending })),
        ' · ',
        h('span', { class: 'rg-field-last-sync' }, synced ? t('lastSync', { time: when(synced) }) : t('neverSynced')),
        ...(navigator.onLine ? [] : [h('br'), h('span', { class: 'rg-field-offline' }, t('offline'))]),
      );
      problems.replaceChildren(
        ...all
          .filter((e) => e.state !== 'pending')
          .map((e) => {
            const ok = h('button', { type: 'button', class: 'rg-field-dismiss' }, t('dismiss'));
            ok.addEventListener('click', () => void (e.seq !== undefined && dismiss(e.seq)));
            return h('li', { class: `rg-field-problem rg-field-${e.state}`, role: 'alert' }, t(e.state === 'conflict' ? 'conflict' : 'failed', { label: e.label, detail: e.error ?? '' }), ok);
          }),
      );
    };
    await refresh();
    if (stopped) return;

    let picker: HTMLElement | undefined;
    if (own === undefined && workers.length) {
      const named = await loadNames();
      if (stopped) return;
      const select = h(
        'select',
        { class: 'rg-field-caseworker', 'aria-label': t('pickCaseworker') },
        ...workers.map((w) => h('option', { value: w, selected: w === cw }, named.has(w) ? `${named.get(w)}（${t('caseworker')} ${w}）` : `${t('caseworker')} ${w}`)),
      );
      select.addEventListener('change', () => {
        q.set('caseworker', select.value);
        window.history.replaceState(null, '', `?${q.toString()}`);
        void show();
      });
      picker = h('label', { class: 'rg-field-picker' }, t('pickCaseworker'), select);
    }
    section.replaceChildren(
      h('header', { class: 'rg-field-head' }, h('h1', null, t('title', { date })), userBar.element, lang),
      sync,
      problems,
      conflictsBox,
      ...(picker ? [picker] : []),
      progress,
      ...(cw === undefined ? [] : [overdueSection(cw)]),
      stops.length ? list : h('p', null, t('noStops')),
      hazards,
      offlineLine,
    );
    document.documentElement.dataset.ready = '1';
    void prepareOffline(campaign, date, cw, stops);
  };

  /** Registers the service worker and has it keep the day's answers and the caseworker's tiles. */
  let prepared = false;
  const prepareOffline = async (campaign: Campaign, date: string, cw: number | undefined, stops: Stop[]) => {
    if (prepared || !navigator.onLine) return;
    prepared = true;
    try {
      const worker = await registerWorker();
      if (!worker || stopped) return;
      const api = (p: string) => new URL(`/api/${p}`, window.location.origin).href;
      const urls = [api('me'), api('campaigns'), api(`campaigns/${campaign.id}`), api(`campaigns/${campaign.id}/routes?date=${encodeURIComponent(date)}`)];
      if (cw !== undefined) urls.push(api(campaignVisitsPath(campaign.id, localToday(), cw)), api(overduePath(cw, OVERDUE_LISTED)));
      let tiles = 0;
      if (user?.role === 'caseworker') {
        // Their grids (the API answers a caseworker with their own only) at the phone's zooms.
        const grids = await fetchGrids();
        const boxes = grids.features.map((f) => bboxOf(f.geometry));
        urls.push(api('grids'));
        const perLayer = Math.floor(MAX_OFFLINE_TILES / OFFLINE_LAYERS.length);
        for (const layer of OFFLINE_LAYERS) {
          const tj = await fetchTileJson(layer);
          const zooms = OFFLINE_ZOOMS.filter((z) => z >= tj.minzoom && z <= tj.maxzoom);
          const template = tj.tiles[0];
          if (!template) continue;
          urls.push(new URL(`/tiles/${layer}.json`, window.location.origin).href);
          const chosen = tilesOver(boxes, zooms).slice(0, perLayer);
          tiles += chosen.length;
          for (const zxy of chosen) {
            const [z, x, y] = zxy.split('/');
            urls.push(template.replace('{z}', z!).replace('{x}', x!).replace('{y}', y!));
          }
        }
        // The glyphs of the names written over their grids: grid names and codes and community
        // names in the regular face, street names in the bold one.
        const fonts = await fetchFonts();
        if (fonts.regular) {
          urls.push(fontCatalogUrl());
          const p = grids.features.map((f) => f.properties);
          const wanted: [string, string[]][] = [
            [fonts.regular, p.flatMap((g) => [g.name, g.code, g.community_name, '\n'])],
            [fonts.bold ?? fonts.regular, p.map((g) => g.street_name)],
          ];
          for (const [font, texts] of wanted) {
            for (const range of glyphRangesOf(texts)) urls.push(new URL(glyphsUrl().replace('{fontstack}', font).replace('{range}', range)).href);
          }
        }
      }
      if (user?.role === 'caseworker') {
        // Today's stops' rental units, empty ones too, and each unit's household card (each an
        // audited read of its persons), and the grids' workplaces.
        urls.push(api('conflicts'), api('hazard-kinds'), api(hazardsPath()));
        for (const building of new Set(stops.map((s) => s.building))) {
          urls.push(api(buildingUnitsPath(building)));
          for (const unit of (await fetchBuildingUnits(building)).units) urls.push(api(`units/${unit.id}`));
        }
        for (const grid of new Set(stops.map((s) => s.grid))) urls.push(new URL(workplacesPath(grid), window.location.origin).href);
      }
      const report = await keepOffline(worker, urls);
      if (stopped) return;
      offlineLine.textContent = t('offlineReady', { tiles, mb: (report.bytes / 1e6).toFixed(1) });
      document.documentElement.dataset.offline = String(report.bytes);
    } catch (error) {
      prepared = false;
      console.warn('offline preparation failed', error);
    }
  };

  const show = () =>
    render().catch((error: unknown) => {
      data = undefined; // fetch again on the next redraw
      const detail = error instanceof ApiError ? error.message : navigator.onLine ? String(error) : t('offline');
      section.replaceChildren(h('p', { role: 'alert' }, tApp('loadFailed', { detail })));
    });
  void show();
  disposers.push(onLangChange(() => void show()));
  return () => {
    stopped = true;
    for (const dispose of disposers) dispose();
    plate?.destroy();
    userBar.destroy();
    delete document.documentElement.dataset.ready;
  };
}
