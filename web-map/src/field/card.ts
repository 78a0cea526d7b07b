/**
 * The household card at the door (一户一卡) in the phone view: a stop's rental units, a unit's
 * card (landlord, pledge, households and persons as the server masks them, the last visit), a
 * person registered (登记) or marked as gone (流出), a phone number corrected, and the conflicts
 * between edits with both values to choose from. Every write goes through the outbox with its
 * client id (and the phone's position when the user has allowed it; never waited for); the
 * server's answer is shown when it arrives.
 *
 * A stop lists its building's rental units (`GET /api/buildings/{id}/units`), empty ones too,
 * so that a person found in a unit where nobody is recorded can be registered into it.
 */
import { fetchBuildingUnits, fetchConflicts, fetchUnitCard, fetchWorkplaces, type ConflictRow, type PersonRow, type UnitCard } from '../api';
import { localToday } from '../layers/campaign';
import { defineStrings } from '../i18n';
import { h } from '../ui/dom';
import { enqueue, entries, randomUuid, sentRecord, type OutboxEntry } from '../offline/outbox';
import { readIdNumber, type IdReading } from './idcard';
import { hazardForm } from './hazards';
import { position } from './position';

export const tc = defineStrings(
  'card',
  {
    units: '出租房 · 一户一卡',
    noUnits: '本楼没有出租房',
    unit: '{label}（{n} 人）',
    emptyUnit: '{label}（无登记住户）',
    back: '← 返回',
    landlord: '房东',
    registered: '出租登记',
    yes: '是',
    no: '否',
    pledge: '治安责任保证书',
    lastVisit: '上次走访',
    never: '无',
    household: '户卡 {no}',
    movedIn: '入住 {date}',
    permit: '居住证',
    leave: '流出',
    edit: '改电话',
    save: '保存',
    add: '登记新住户',
    idNumber: '身份证号',
    name: '姓名',
    phone: '电话',
    origin: '籍贯',
    workplace: '工作单位',
    noWorkplace: '（不填）',
    movedInOn: '入住日期',
    hasPermit: '已办居住证',
    submit: '登记',
    idLength: '已输入 {n} / 18 位',
    idDigit: '第 {n} 位不是数字',
    idBirth: '出生日期 {date} 不是有效日期',
    idCheck: '校验位应为 {expected}，请核对号码',
    idOk: '{sex}，出生于 {date}',
    male: '男',
    female: '女',
    needName: '请填写姓名',
    needPhone: '请填写电话',
    needId: '请填写有效的身份证号',
    writes: '本户的记录',
    pending: '待发送',
    failed: '未能保存：{detail}',
    conflict: '冲突：{detail}',
    registeredNew: '已登记：{name}',
    moved: '已迁入：原住 {from}',
    returned: '已回迁：原住 {from}',
    alreadyHere: '已在本户，未作改动',
    outside: '辖区外',
    departed: '已流出：{name}',
    edited: '已修改：{fields}',
    resolved: '冲突已处理',
    addLabel: '登记 · {unit} · {id}',
    leaveLabel: '流出 · {unit} · {name}',
    editLabel: '改电话 · {name}',
    resolveLabel: '处理冲突 #{id}',
    conflicts: '待处理的冲突（{n}）',
    conflictOf: '冲突 #{id} · 人员 {person}',
    yours: '我的',
    theirs: '对方的',
    keepMine: '保留我的',
    keepTheirs: '保留对方的',
    field_name: '姓名',
    field_phone: '电话',
    field_origin: '籍贯',
    field_workplace_id: '工作单位',
    field_permit: '居住证',
    loadFailed: '无法打开：{detail}',
  },
  {
    units: 'Rental units · household cards',
    noUnits: 'No rental unit in this building',
    unit: '{label} ({n} {n|person|persons})',
    emptyUnit: '{label} (nobody recorded)',
    back: '← Back',
    landlord: 'Landlord',
    registered: 'Registered rental',
    yes: 'yes',
    no: 'no',
    pledge: 'Safety pledge',
    lastVisit: 'Last visit',
    never: 'none',
    household: 'Card {no}',
    movedIn: 'moved in {date}',
    permit: 'Residence permit',
    leave: 'Moved out',
    edit: 'Edit phone',
    save: 'Save',
    add: 'Register a resident',
    idNumber: 'ID number',
    name: 'Name',
    phone: 'Phone',
    origin: 'Origin',
    workplace: 'Workplace',
    noWorkplace: '(none)',
    movedInOn: 'Moved in on',
    hasPermit: 'Has a residence permit',
    submit: 'Register',
    idLength: '{n} of 18 characters',
    idDigit: 'Character {n} is not a digit',
    idBirth: 'The birth date {date} is not a real date',
    idCheck: 'The check character should be {expected}: check the number',
    idOk: '{sex}, born {date}',
    male: 'male',
    female: 'female',
    needName: 'Enter the name',
    needPhone: 'Enter the phone number',
    needId: 'Enter a valid ID number',
    writes: 'Records of this unit',
    pending: 'waiting to be sent',
    failed: 'Not saved: {detail}',
    conflict: 'Conflict: {detail}',
    registeredNew: 'Registered: {name}',
    moved: 'Moved in: lived at {from} before',
    returned: 'Came back: lived at {from} before',
    alreadyHere: 'Already here: nothing changed',
    outside: 'outside your grids',
    departed: 'Moved out: {name}',
    edited: 'Changed: {fields}',
    resolved: 'Conflict resolved',
    addLabel: 'Register · {unit} · {id}',
    leaveLabel: 'Moved out · {unit} · {name}',
    editLabel: 'Edit phone · {name}',
    resolveLabel: 'Resolve conflict #{id}',
    conflicts: 'Conflicts to resolve ({n})',
    conflictOf: 'Conflict #{id} · person {person}',
    yours: 'yours',
    theirs: 'theirs',
    keepMine: 'Keep mine',
    keepTheirs: 'Keep theirs',
    field_name: 'Name',
    field_phone: 'Phone',
    field_origin: 'Origin',
    field_workplace_id: 'Workplace',
    field_permit: 'Residence permit',
    loadFailed: 'Cannot open: {detail}',
  },
);

/** A stop's building and the grid it lies in. */
export interface StopPlace {
  building: number;
  grid: number;
  address: string;
}

/**
 * Puts a write into the outbox under a key of its own (so its answer is kept) and remembers it
 * for the unit. The body carries the client id and the position, but for a conflict's choice
 * (`unit` undefined), which names neither.
 */
async function write(user: string, unit: number | undefined, method: 'POST' | 'PATCH', path: string, label: string, body: Record<string, unknown>): Promise<void> {
  const clientId = randomUuid();
  const key = `card|${clientId}`;
  if (unit === undefined) {
    await enqueue({ user, method, path, key, clientId, label, body: () => body });
    return;
  }
  const where = await position();
  writeWrites(user, unit, [...readWrites(user, unit), { key, label }].slice(-30));
  await enqueue({ user, method, path, key, clientId, label, body: (id) => ({ ...body, client_id: id, ...(where ? { position: where } : {}) }) });
}

interface KeptWrite {
  key: string;
  label: string;
}

const writesKey = (user: string, unit: number) => `rentgrid.card.${user}.${unit}`;

function readWrites(user: string, unit: number): KeptWrite[] {
  try {
    return JSON.parse(window.localStorage.getItem(writesKey(user, unit)) ?? '[]') as KeptWrite[];
  } catch {
    return [];
  }
}

function writeWrites(user: string, unit: number, list: KeptWrite[]): void {
  try {
    window.localStorage.setItem(writesKey(user, unit), JSON.stringify(list));
  } catch {
    // Storage disabled: the outbox still has the writes.
  }
}

/** What the server answered to a write, in words. */
function answer(reply: unknown): string {
  const r = (reply ?? {}) as Record<string, unknown>;
  const person = r.person as PersonRow | undefined;
  if (typeof r.arrival === 'string') {
    const earlier = r.earlier as { outside_your_grids: boolean; address: string | null; unit_label: string | null } | null | undefined;
    const from = earlier ? (earlier.outside_your_grids ? tc('outside') : `${earlier.address ?? ''} ${earlier.unit_label ?? ''}`.trim()) : '';
    if (r.arrival === 'moved') return tc('moved', { from });
    if (r.arrival === 'returned') return tc('returned', { from });
    if (r.arrival === 'already_here') return tc('alreadyHere');
    return tc('registeredNew', { name: person?.name ?? '' });
  }
  if ('left' in r) return tc('departed', { name: person?.name ?? '' });
  if (Array.isArray(r.changed)) return tc('edited', { fields: r.changed.map((f) => fieldName(String(f))).join('、') });
  return tc('resolved');
}

const FIELDS = ['name', 'phone', 'origin', 'workplace_id', 'permit'] as const;

function fieldName(field: string): string {
  const known = FIELDS.find((f) => f === field);
  return known ? tc(`field_${known}`) : field;
}

function value(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? tc('yes') : tc('no');
  return String(v);
}

/** One open conflict with both values and the two choices (through the outbox). */
export function conflictItem(c: ConflictRow, user: string): HTMLElement {
  const mine = h('button', { type: 'button', class: 'rg-keep rg-keep-mine' }, tc('keepMine'));
  const theirs = h('button', { type: 'button', class: 'rg-keep rg-keep-theirs' }, tc('keepTheirs'));
  const item = h(
    'li',
    { class: 'rg-conflict', 'data-conflict': c.id, 'data-person': c.person_id },
    h('div', null, tc('conflictOf', { id: c.id, person: c.person_id })),
    h(
      'ul',
      null,
      ...c.fields.map((f) =>
        h('li', { class: 'rg-conflict-field', 'data-field': f.field }, `${fieldName(f.field)}：`, h('span', { class: 'rg-yours' }, `${tc('yours')} ${value(f.yours)}`), ' / ', h('span', { class: 'rg-theirs' }, `${tc('theirs')} ${value(f.theirs)}`)),
      ),
    ),
    h('div', { class: 'rg-conflict-choice' }, mine, theirs),
  );
  const choose = (keep: 'mine' | 'theirs') => {
    mine.disabled = theirs.disabled = true;
    item.dataset.state = 'pending';
    void write(user, undefined, 'POST', `conflicts/${c.id}/resolve`, tc('resolveLabel', { id: c.id }), { keep });
  };
  mine.addEventListener('click', () => choose('mine'));
  theirs.addEventListener('click', () => choose('theirs'));
  return item;
}

/** Open conflicts (online only; empty offline). */
export async function openConflicts(): Promise<ConflictRow[]> {
  if (!navigator.onLine) return [];
  return fetchConflicts().catch(() => []);
}

/** What the ID number typed so far says (shown under the field). */
function readingText(r: IdReading): string {
  if (r.ok) return tc('idOk', { sex: tc(r.sex), date: r.birthDate });
  switch (r.problem) {
    case 'length':
      return tc('idLength', { n: r.length ?? 0 });
    case 'digit':
      return tc('idDigit', { n: r.position ?? 0 });
    case 'birth':
      return tc('idBirth', { date: r.birthDate ?? '' });
    case 'check':
      return tc('idCheck', { expected: r.expected ?? '' });
  }
}

/**
 * The stop's panel of rental units: opened, it lists the units and opens a unit's card.
 * `onChange` registers the panel's redraw for outbox changes.
 */
export function unitsPanel(place: StopPlace, user: string, onChange: (redraw: () => Promise<void>) => void): HTMLElement {
  const body = h('div', { class: 'rg-units-body' });
  const details = h('details', { class: 'rg-field-units' }, h('summary', null, tc('units')), body);
  let redraw: () => Promise<void> = async () => {};
  onChange(() => redraw());
  const showList = async () => {
    redraw = async () => {};
    try {
      const units = (await fetchBuildingUnits(place.building)).units.sort((a, b) => a.label.localeCompare(b.label, 'zh-CN', { numeric: true }));
      if (!units.length) {
        body.replaceChildren(h('p', null, tc('noUnits')));
        return;
      }
      body.replaceChildren(
        h(
          'ul',
          { class: 'rg-units' },
          ...units.map((u) => {
            const open = h('button', { type: 'button', class: 'rg-unit', 'data-unit': u.id, 'data-persons': u.persons }, u.persons ? tc('unit', { label: u.label, n: u.persons }) : tc('emptyUnit', { label: u.label }));
            open.addEventListener('click', () => void showCard(u.id));
            return h('li', null, open);
          }),
        ),
      );
    } catch (error) {
      body.replaceChildren(h('p', { role: 'alert' }, tc('loadFailed', { detail: error instanceof Error ? error.message : String(error) })));
    }
  };
  const showCard = async (unitId: number) => {
    const back = h('button', { type: 'button', class: 'rg-card-back' }, tc('back'));
    back.addEventListener('click', () => void showList());
    const card = h('div', { class: 'rg-card', 'data-unit': unitId });
    body.replaceChildren(back, card);
    let seenSent = -1;
    const load = async () => {
      try {
        const [unit, conflicts] = await Promise.all([fetchUnitCard(unitId), openConflicts()]);
        await renderCard(card, unit, conflicts, place, user);
      } catch (error) {
        card.replaceChildren(h('p', { role: 'alert' }, tc('loadFailed', { detail: error instanceof Error ? error.message : String(error) })));
      }
      card.dataset.loaded = '1';
    };
    let resolving = false;
    redraw = async () => {
      // A write of this unit, or a conflict's choice (here or in the list above), confirmed
      // since: read the card again.
      const sent = await writesStatus(card, user, unitId);
      const stillResolving = (await entries(user)).some((e) => e.path.startsWith('conflicts/') && e.state === 'pending');
      const resolved = (resolving || card.querySelector('.rg-conflict[data-state=pending]') !== null) && !stillResolving;
      resolving = stillResolving;
      if ((sent !== seenSent && seenSent >= 0) || resolved) await load();
      seenSent = sent;
      await writesStatus(card, user, unitId);
    };
    await load();
    await redraw();
  };
  details.addEventListener('toggle', () => {
    if (details.open && !body.childElementCount) void showList();
  });
  return details;
}

/** Fills the card's list of writes with their states; answers how many the server has. */
async function writesStatus(card: HTMLElement, user: string, unitId: number): Promise<number> {
  const list = card.querySelector('.rg-card-writes');
  if (!list) return 0;
  const waiting = new Map<string, OutboxEntry>((await entries(user)).filter((e) => e.key).map((e) => [e.key!, e]));
  let sent = 0;
  const items = await Promise.all(
    readWrites(user, unitId).map(async (w) => {
      const queued = waiting.get(w.key);
      let state = 'pending';
      let text = tc('pending');
      if (queued?.state === 'failed') [state, text] = ['failed', tc('failed', { detail: queued.error ?? '' })];
      else if (queued?.state === 'conflict') [state, text] = ['conflict', tc('conflict', { detail: queued.error ?? '' })];
      else if (!queued) {
        const record = await sentRecord(user, w.key);
        if (record) {
          sent++;
          [state, text] = ['sent', answer(record.reply)];
        }
      }
      return h('li', { class: 'rg-card-write', 'data-state': state }, h('span', null, w.label), ' — ', h('span', { class: 'rg-card-answer' }, text));
    }),
  );
  list.replaceChildren(...items.reverse());
  return sent;
}

/** Draws a unit's card into `card`. */
async function renderCard(card: HTMLElement, unit: UnitCard, conflicts: ConflictRow[], place: StopPlace, user: string): Promise<void> {
  const row = (term: string, desc: string) => [h('dt', null, term), h('dd', null, desc)];
  const landlord = unit.landlord ? `${unit.landlord.name} · ${unit.landlord.phone}` : '—';
  const persons = unit.households.flatMap((hh) => hh.persons);
  const ids = new Set(persons.map((p) => p.id));
  const personItem = (p: PersonRow) => {
    const leave = h('button', { type: 'button', class: 'rg-card-leave' }, tc('leave'));
    leave.addEventListener('click', () => {
      leave.disabled = true;
      void write(user, unit.id, 'POST', `persons/${p.id}/departure`, tc('leaveLabel', { unit: unit.label, name: p.name }), { on: localToday() });
    });
    const phone = h('input', { name: 'phone', type: 'tel', value: '', placeholder: p.phone, inputmode: 'tel', maxlength: 20 });
    const save = h('button', { type: 'submit', class: 'rg-card-save' }, tc('save'));
    const edit = h('form', { class: 'rg-card-edit', novalidate: true }, phone, save);
    edit.addEventListener('submit', (event) => {
      event.preventDefault();
      const v = phone.value.trim();
      if (!v) return;
      phone.value = '';
      void write(user, unit.id, 'PATCH', `persons/${p.id}`, tc('editLabel', { name: p.name }), { base_version: p.version, phone: v });
    });
    return h(
      'li',
      { class: 'rg-card-person', 'data-person': p.id, 'data-version': p.version },
      h('div', null, h('strong', null, p.name), ` · ${p.id_number} · ${p.phone}`),
      h('div', { class: 'rg-card-meta' }, [p.moved_in_on ? tc('movedIn', { date: p.moved_in_on }) : '', `${tc('permit')} ${value(p.permit)}`, p.workplace ?? ''].filter(Boolean).join(' · ')),
      h('details', null, h('summary', null, tc('edit')), edit),
      leave,
    );
  };
  const add = await addForm(unit, place, user);
  card.replaceChildren(
    h('h2', null, `${unit.label} · ${unit.address}`),
    h(
      'dl',
      { class: 'rg-card-facts' },
      ...row(tc('landlord'), landlord),
      ...row(tc('registered'), unit.registered ? `${tc('yes')}${unit.registered_on ? ` (${unit.registered_on})` : ''}` : tc('no')),
      ...row(tc('pledge'), value(unit.pledge_signed)),
      ...row(tc('lastVisit'), unit.last_visit ? unit.last_visit.date : tc('never')),
    ),
    ...unit.households.map((hh) => h('section', { class: 'rg-card-household' }, h('h3', null, tc('household', { no: hh.card_no })), h('ul', { class: 'rg-card-persons' }, ...hh.persons.map(personItem)))),
    h('ul', { class: 'rg-conflicts' }, ...conflicts.filter((c) => ids.has(c.person_id)).map((c) => conflictItem(c, user))),
    add,
    hazardForm(place, user, { unit: { id: unit.id, label: unit.label } }),
    h('h3', null, tc('writes')),
    h('ul', { class: 'rg-card-writes' }),
  );
}

/** The form registering a person in `unit`. */
async function addForm(unit: UnitCard, place: StopPlace, user: string): Promise<HTMLElement> {
  const workplaces = await fetchWorkplaces(place.grid).catch(() => []);
  const id = h('input', { name: 'id_number', type: 'text', maxlength: 18, autocomplete: 'off', autocapitalize: 'characters' });
  const reading = h('p', { class: 'rg-card-id-reading', 'aria-live': 'polite' });
  const message = h('p', { class: 'rg-field-message', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'rg-field-form rg-card-add', novalidate: true },
    h('label', null, tc('idNumber'), id),
    reading,
    h('label', null, tc('name'), h('input', { name: 'name', type: 'text', maxlength: 50 })),
    h('label', null, tc('phone'), h('input', { name: 'phone', type: 'tel', maxlength: 20, inputmode: 'tel' })),
    h('label', null, tc('origin'), h('input', { name: 'origin', type: 'text', maxlength: 50 })),
    h('label', null, tc('workplace'), h('select', { name: 'workplace_id' }, h('option', { value: '' }, tc('noWorkplace')), ...workplaces.map((w) => h('option', { value: w.id }, w.name)))),
    h('label', null, tc('movedInOn'), h('input', { name: 'moved_in_on', type: 'date', value: localToday() })),
    h('label', { class: 'rg-field-check' }, h('input', { name: 'permit', type: 'checkbox' }), tc('hasPermit')),
    message,
    h('button', { type: 'submit', class: 'rg-field-submit' }, tc('submit')),
  );
  const show = () => {
    const r = readIdNumber(id.value);
    reading.textContent = id.value.trim() ? readingText(r) : '';
    reading.dataset.ok = String(r.ok);
    // Still being typed is not wrong; a wrong character, date or check character is.
    id.setAttribute('aria-invalid', String(!r.ok && r.problem !== 'length'));
  };
  id.addEventListener('input', show);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const r = readIdNumber(id.value);
    const name = String(data.get('name') ?? '').trim();
    const phone = String(data.get('phone') ?? '').trim();
    const problem = !r.ok ? tc('needId') : !name ? tc('needName') : !phone ? tc('needPhone') : '';
    message.textContent = problem;
    message.hidden = !problem;
    if (!r.ok || problem) return;
    const origin = String(data.get('origin') ?? '').trim();
    const workplace = Number(data.get('workplace_id')) || null;
    const body = {
      id_number: r.number,
      name,
      phone,
      origin: origin || null,
      workplace_id: workplace,
      permit: data.get('permit') === 'on',
      moved_in_on: String(data.get('moved_in_on') ?? '') || localToday(),
    };
    form.reset();
    (form.elements.namedItem('moved_in_on') as HTMLInputElement).value = localToday();
    show();
    void write(user, unit.id, 'POST', `units/${unit.id}/persons`, tc('addLabel', { unit: unit.label, id: `${r.number.slice(0, 6)}…${r.number.slice(-4)}` }), body);
  });
  return h('details', { class: 'rg-card-add-box' }, h('summary', null, tc('add')), form);
}
