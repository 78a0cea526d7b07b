/**
 * Hazards at the door (隐患) in the phone view: the form recording a hazard found at a stop's
 * building or in a rental unit (kind, severity, note, the day it was found), and the list of the
 * open cases of the caseworker's grids with their deadline, yellow and red badges, a "已整改"
 * (rectified) report and a photo. Recording a hazard and reporting it rectified go through the
 * outbox (`offline/outbox.ts`) with a client id, so they work offline and land once; a photo is
 * sent online only (made small first). Offline, the list is the one the phone kept.
 */
import { ApiError, fetchHazards, uploadHazardPhoto, type HazardCase, type HazardList, type NewHazardBody } from '../api';
import { defineStrings, getLang } from '../i18n';
import { localToday } from '../layers/campaign';
import { h } from '../ui/dom';
import { enqueue, entries, randomUuid, type OutboxEntry } from '../offline/outbox';
import { hazardKinds, caseLine, SEVERITIES, th } from '../hazards/words';
import { shrinkPhoto } from '../hazards/photo';
import { position } from './position';

const tf = defineStrings(
  'fieldHazards',
  {
    record: '记录隐患',
    recordInUnit: '记录本户隐患',
    kind: '隐患类别',
    severity: '严重程度',
    note: '情况说明',
    foundOn: '发现日期',
    unit: '出租房（可不选）',
    noUnit: '（整栋楼）',
    submit: '保存隐患',
    saved: '✓ 已保存在本机：{kind}，联网后自动发送',
    needKind: '请选择隐患类别',
    label: '隐患 · {address} · {kind}',
    rectifyLabel: '已整改 · 隐患 #{id}',
    list: '隐患（未结 {open}，黄 {yellow}，红 {red}）',
    listOffline: '隐患（本机保存的清单）',
    none: '辖区内没有未结的隐患',
    waiting: '待发送',
    rectify: '已整改',
    rectifyWaiting: '已整改 · 待发送',
    photo: '拍照上传',
    photoOffline: '不联网时无法上传照片',
    photoSending: '正在上传照片…',
    photoSent: '✓ 照片已上传',
    photoFailed: '照片未能上传：{detail}',
    loadFailed: '未能读取隐患清单：{detail}',
    noneKept: '离线，本机尚未保存隐患清单',
    kindsNotKept: '离线，本机尚未保存隐患类别',
  },
  {
    record: 'Record a hazard',
    recordInUnit: 'Record a hazard in this unit',
    kind: 'Kind of hazard',
    severity: 'Severity',
    note: 'What was seen',
    foundOn: 'Found on',
    unit: 'Rental unit (optional)',
    noUnit: '(the whole building)',
    submit: 'Save the hazard',
    saved: '✓ Saved on this phone: {kind}; sent when the network is there',
    needKind: 'Choose the kind of hazard',
    label: 'Hazard · {address} · {kind}',
    rectifyLabel: 'Rectified · hazard #{id}',
    list: 'Hazards ({open} open, {yellow} yellow, {red} red)',
    listOffline: 'Hazards (the list kept on this phone)',
    none: 'No open hazard in your grids',
    waiting: 'waiting to be sent',
    rectify: 'Rectified',
    rectifyWaiting: 'Rectified · waiting to be sent',
    photo: 'Add a photo',
    photoOffline: 'Photos are sent when online (不联网时无法上传照片)',
    photoSending: 'Sending the photo…',
    photoSent: '✓ Photo sent',
    photoFailed: 'The photo was not sent: {detail}',
    loadFailed: 'Could not read the hazards: {detail}',
    noneKept: 'offline, and no list kept on this phone yet',
    kindsNotKept: 'offline, and the kinds are not kept on this phone yet',
  },
);

/** Where a hazard is recorded: a stop's building. */
export interface HazardPlace {
  building: number;
  address: string;
}

/** A kind's name as the form offers it: Chinese with English (English first in English). */
function kindOption(k: { name_zh: string; name_en: string }): string {
  return getLang() === 'en' ? `${k.name_en} · ${k.name_zh}` : `${k.name_zh} · ${k.name_en}`;
}

/** The outbox path of a hazard recorded at a building. */
const RECORD_PATH = /^buildings\/\d+\/hazards$/;

/** The outbox key of a case's "rectified" report: a second tap replaces one still waiting. */
const rectifyKey = (id: number) => `hazard-rectified|${id}`;

/**
 * The form recording a hazard at `place`: in `unit` when given (the household card), else in the
 * building or one of the `units` it offers (the stop).
 */
export function hazardForm(
  place: HazardPlace,
  user: string,
  where: { unit: { id: number; label: string } } | { units: () => Promise<{ id: number; label: string }[]> },
): HTMLElement {
  const kind = h('select', { name: 'kind', required: true }, h('option', { value: '' }, '—'));
  const severity = h('select', { name: 'severity' }, ...SEVERITIES.map((s) => h('option', { value: s }, `${th(s)}${getLang() === 'en' ? '' : ` · ${s}`}`)));
  const unitSelect = 'units' in where ? h('select', { name: 'unit_id' }, h('option', { value: '' }, tf('noUnit'))) : undefined;
  const message = h('p', { class: 'rg-hazard-message', role: 'alert', hidden: true });
  const saved = h('p', { class: 'rg-hazard-saved', role: 'status', hidden: true });
  const submit = h('button', { type: 'button', class: 'rg-hazard-submit' }, tf('submit'));
  const form = h(
    'form',
    { class: 'rg-field-form rg-hazard-form', novalidate: true },
    h('label', null, tf('kind'), kind),
    h('label', null, tf('severity'), severity),
    ...(unitSelect ? [h('label', null, tf('unit'), unitSelect)] : []),
    h('label', null, tf('note'), h('textarea', { name: 'note', maxlength: 500, rows: 2 })),
    h('label', null, tf('foundOn'), h('input', { name: 'found_on', type: 'date', value: localToday(), max: localToday() })),
    message,
    submit,
    saved,
  );
  // Not a submit button: a stop's visit form keeps the one submit button of the stop.
  submit.addEventListener('click', () => form.requestSubmit());
  const names = new Map<string, string>();
  const details = h(
    'details',
    { class: `rg-field-hazard ${'unit' in where ? 'rg-hazard-in-unit' : 'rg-hazard-at-stop'}` },
    h('summary', null, 'unit' in where ? tf('recordInUnit') : tf('record')),
    form,
  );
  let filled = false;
  details.addEventListener('toggle', () => {
    if (!details.open || filled) return;
    filled = true;
    void hazardKinds()
      .then((list) => {
        for (const k of list.kinds) {
          names.set(k.code, getLang() === 'en' ? k.name_en : k.name_zh);
          kind.append(h('option', { value: k.code }, kindOption(k)));
        }
      })
      .catch((error: unknown) => {
        filled = false;
        const detail = navigator.onLine ? (error instanceof Error ? error.message : String(error)) : tf('kindsNotKept');
        message.textContent = th('noKinds', { detail });
        message.hidden = false;
      });
    if (unitSelect && 'units' in where) {
      void where
        .units()
        .then((units) => unitSelect.append(...units.map((u) => h('option', { value: u.id }, u.label))))
        .catch(() => undefined);
    }
  });
  form.addEventListener('input', () => {
    message.hidden = true;
    saved.hidden = true;
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const code = String(data.get('kind') ?? '');
    if (!code) {
      message.textContent = tf('needKind');
      message.hidden = false;
      return;
    }
    const unitId = 'unit' in where ? where.unit.id : Number(data.get('unit_id')) || null;
    const note = String(data.get('note') ?? '').trim();
    const foundOn = String(data.get('found_on') ?? '') || localToday();
    const sev = String(data.get('severity') ?? 'minor');
    const name = names.get(code) ?? code;
    form.reset();
    (form.elements.namedItem('found_on') as HTMLInputElement).value = localToday();
    saved.textContent = tf('saved', { kind: name });
    saved.hidden = false;
    void (async () => {
      const at = await position();
      const clientId = randomUuid();
      await enqueue({
        user,
        method: 'POST',
        path: `buildings/${place.building}/hazards`,
        key: `hazard|${clientId}`,
        clientId,
        label: tf('label', { address: place.address, kind: name }),
        body: (id): NewHazardBody => ({
          client_id: id,
          kind: code,
          severity: sev,
          unit_id: unitId,
          found_on: foundOn,
          ...(note ? { note } : {}),
          ...(at ? { position: at } : {}),
        }),
      });
    })();
  });
  return details;
}

/** Red first, then yellow, then by deadline. */
function byUrgency(a: HazardCase, b: HazardCase): number {
  const rank = { red: 0, yellow: 1, on_time: 2 } as const;
  return rank[a.urgency] - rank[b.urgency] || a.due_on.localeCompare(b.due_on) || a.id - b.id;
}

/**
 * The section listing the open cases of the caseworker's grids (a caseworker's own grids; for
 * the command center and supervisors, the cases given to `caseworker`). `onChange` registers
 * the section's redraw for outbox changes.
 */
export function hazardsSection(user: string, role: string | undefined, caseworker: number | undefined, onChange: (redraw: () => Promise<void>) => void): HTMLElement {
  const heading = h('h2', null, th('title'));
  const list = h('ul', { class: 'rg-field-hazard-list' });
  const problem = h('p', { class: 'rg-hazard-message', role: 'alert', hidden: true });
  const section = h('section', { class: 'rg-field-hazards' }, heading, problem, list);
  const mayRectify = role === 'caseworker' || role === 'center';
  const query = role === 'caseworker' || caseworker === undefined ? {} : { assignee: caseworker };
  let cases: HazardList | undefined;
  /** Whether the list shown was read with the network off (the kept one). */
  let kept = false;
  /** The outbox's hazard writes last drawn (to read the list again once some were sent). */
  let waitingSeen = new Set<number | undefined>();
  /** Photos sent or being sent, by case. */
  const photoState = new Map<number, string>();

  /** Loads asked for and applied: a late answer to an earlier ask never replaces a newer one. */
  let asked = 0;
  let applied = 0;
  const load = async () => {
    const n = ++asked;
    const offline = !navigator.onLine;
    try {
      const got = await fetchHazards(query);
      if (n < applied) return;
      applied = n;
      cases = got;
      kept = offline;
      problem.hidden = true;
    } catch (error) {
      if (cases === undefined) {
        const detail = error instanceof ApiError || navigator.onLine ? (error instanceof Error ? error.message : String(error)) : tf('noneKept');
        problem.textContent = tf('loadFailed', { detail });
        problem.hidden = false;
      }
    }
  };

  const item = (c: HazardCase, waiting: Map<string, OutboxEntry>): HTMLElement => {
    const li = h('li', { class: 'rg-field-hazard-item', 'data-hazard': c.id, 'data-urgency': c.urgency, 'data-status': c.status }, caseLine(c));
    if (c.note) li.append(h('div', { class: 'rg-hazard-note' }, c.note));
    const actions = h('div', { class: 'rg-hazard-actions' });
    const queued = waiting.get(rectifyKey(c.id));
    if (mayRectify && ['found', 'assigned', 'reopened'].includes(c.status)) {
      const rectify = h('button', { type: 'button', class: 'rg-hazard-rectify' }, queued ? tf('rectifyWaiting') : tf('rectify'));
      rectify.disabled = queued !== undefined;
      rectify.addEventListener('click', () => {
        rectify.disabled = true;
        void (async () => {
          const at = await position();
          await enqueue({
            user,
            method: 'POST',
            path: `hazards/${c.id}/rectified`,
            key: rectifyKey(c.id),
            label: tf('rectifyLabel', { id: c.id }),
            body: (id) => ({ client_id: id, on: localToday(), ...(at ? { position: at } : {}) }),
          });
        })();
      });
      actions.append(rectify);
    }
    const status = h('span', { class: 'rg-hazard-photo-status', role: 'status' }, photoState.get(c.id) ?? '');
    if (navigator.onLine) {
      const input = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp', capture: 'environment', class: 'rg-hazard-photo' });
      input.addEventListener('change', () => {
        const file = input.files?.[0];
        if (!file) return;
        input.disabled = true;
        // The list may be redrawn while the photo is on its way: say it in the item shown then.
        const say = (text: string) => {
          photoState.set(c.id, text);
          const shown = list.querySelector(`[data-hazard="${c.id}"] .rg-hazard-photo-status`);
          if (shown) shown.textContent = text;
        };
        say(tf('photoSending'));
        void shrinkPhoto(file)
          .then((jpeg) => uploadHazardPhoto(c.id, jpeg))
          .then(() => say(tf('photoSent')))
          .catch((error: unknown) => say(tf('photoFailed', { detail: navigator.onLine ? (error instanceof Error ? error.message : String(error)) : tf('photoOffline') })))
          .finally(() => {
            input.value = '';
            input.disabled = false;
          });
      });
      actions.append(h('label', { class: 'rg-hazard-photo-label' }, tf('photo'), input));
    } else {
      actions.append(h('span', { class: 'rg-hazard-photo-offline' }, tf('photoOffline')));
    }
    actions.append(status);
    li.append(actions);
    return li;
  };

  const draw = (all: OutboxEntry[]) => {
    const waiting = new Map(all.filter((e) => e.key && e.state === 'pending').map((e) => [e.key!, e]));
    const recorded = all.filter((e) => e.state === 'pending' && RECORD_PATH.test(e.path));
    const shown = (cases?.hazards ?? []).filter((c) => c.status !== 'verified').sort(byUrgency);
    heading.textContent = cases && !kept ? tf('list', cases.counts) : kept ? tf('listOffline') : th('title');
    list.replaceChildren(
      ...recorded.map((e) => h('li', { class: 'rg-field-hazard-item', 'data-state': 'pending' }, e.label, ' — ', tf('waiting'))),
      ...shown.map((c) => item(c, waiting)),
      ...(cases && !shown.length && !recorded.length ? [h('li', { class: 'rg-field-hazard-none' }, tf('none'))] : []),
    );
    section.dataset.open = String(shown.length);
    section.dataset.waiting = String(recorded.length);
  };

  const redraw = async () => {
    const all = await entries(user);
    const hazardWrites = all.filter((e) => e.state === 'pending' && (RECORD_PATH.test(e.path) || e.path.startsWith('hazards/')));
    const now = new Set(hazardWrites.map((e) => e.seq));
    // Read the list again when a hazard write left the outbox (the server has it), or when the
    // kept list is shown and the network is back.
    const left = [...waitingSeen].some((seq) => !now.has(seq));
    if (navigator.onLine && (cases === undefined || kept || left)) await load();
    waitingSeen = now;
    draw(all);
    section.dataset.loaded = '1';
  };
  onChange(redraw);
  void load().then(redraw);
  return section;
}
