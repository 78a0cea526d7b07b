/**
 * Door plates (门牌二维码) in the phone view. A plate's QR code holds `/?view=field&plate=TOKEN`,
 * so the phone's own camera app opens the field view with it; this module resolves the token
 * (`GET /api/plates/{token}`) and shows what it opens: the rental unit's household card, or the
 * building with its units (each opening its card). A forged, revoked or out-of-scope plate is
 * refused with a message that says which. It also gives each stop its "print door plates" link.
 */
import { ApiError, fetchPlate, fetchUnitCard, type PlateOpens, type UnitCard } from '../api';
import { defineStrings, onLangChange } from '../i18n';
import { h } from '../ui/dom';

const t = defineStrings(
  'plate',
  {
    heading: '门牌扫码',
    loading: '正在打开门牌…',
    building: '楼栋 · {address}',
    units: '本楼出租房屋 {n} 套：点开查看户卡',
    card: '户卡 · {address}',
    cardNo: '卡号 {no}',
    persons: '登记人员 {n} 人',
    registered: '已登记',
    unregistered: '未登记',
    noPersons: '暂无登记人员',
    landlord: '房东 {name} {phone}',
    forged: '门牌无效：此二维码不是本区签发的门牌（伪造或输错），请核实后上报。',
    revoked: '此门牌已作废，不能再使用：请更换新门牌。',
    outside: '此门牌所在楼栋不在您负责的网格内。',
    failed: '打不开门牌：{detail}',
    print: '打印门牌',
    close: '关闭',
  },
  {
    heading: 'Door plate',
    loading: 'Opening the door plate…',
    building: 'Building · {address}',
    units: '{n} rental units in this building: tap one for its card',
    card: 'Household card · {address}',
    cardNo: 'Card {no}',
    persons: '{n} {n|person|persons} registered',
    registered: 'registered',
    unregistered: 'not registered',
    noPersons: 'No one registered here',
    landlord: 'Landlord {name} {phone}',
    forged: 'Invalid plate: this code was not issued by this district (forged or mistyped); please report it.',
    revoked: 'This door plate was revoked and no longer works: replace it with the new one.',
    outside: 'This door plate is on a building outside your grids.',
    failed: 'Could not open the plate: {detail}',
    print: 'Print door plates',
    close: 'Close',
  },
);

/** The plate token the page was opened with (`?plate=`), if any. */
export function requestedPlate(): string | null {
  const token = new URLSearchParams(window.location.search).get('plate');
  return token && token.trim() ? token.trim() : null;
}

/** The link to a building's A4 sheet of door plates (an SVG page to print). */
export function printPlatesLink(building: number): HTMLAnchorElement {
  return h('a', { class: 'rg-field-plates', href: `/api/buildings/${building}/plates`, target: '_blank', rel: 'noopener' }, t('print'));
}

/** Why a plate was refused, in words for the caseworker. */
function refusal(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 404) return t('forged');
    if (error.status === 410) return t('revoked');
    if (error.status === 403) return t('outside');
  }
  return t('failed', { detail: error instanceof Error ? error.message : String(error) });
}

/** A household card (一户一卡) as the phone shows it (masked as the role sees it). */
function cardView(card: UnitCard): HTMLElement {
  const persons = card.households.flatMap((hh) => hh.persons);
  return h(
    'article',
    { class: 'rg-plate-card', 'data-unit': card.id },
    h('h2', null, t('card', { address: `${card.address} ${card.label}` })),
    card.landlord ? h('p', null, t('landlord', { name: card.landlord.name, phone: card.landlord.phone })) : null,
    h('p', null, t('persons', { n: persons.length })),
    ...card.households.map((hh) =>
      h(
        'section',
        { class: 'rg-plate-household' },
        h('h3', null, t('cardNo', { no: hh.card_no })),
        hh.persons.length
          ? h('ul', null, ...hh.persons.map((p) => h('li', null, `${p.name} · ${p.id_number} · ${p.phone} · ${p.registered ? t('registered') : t('unregistered')}`)))
          : h('p', null, t('noPersons')),
      ),
    ),
    card.households.length ? null : h('p', null, t('noPersons')),
  );
}

/** What a building's plate opens: its units, each opening its card below. */
function buildingView(opens: PlateOpens): HTMLElement {
  const below = h('div', { class: 'rg-plate-unit' });
  const list = h(
    'ul',
    { class: 'rg-plate-units' },
    ...opens.units.map((u) => {
      const button = h('button', { type: 'button' }, u.room);
      button.addEventListener('click', () => {
        below.replaceChildren(h('p', null, t('loading')));
        fetchUnitCard(u.id).then(
          (card) => below.replaceChildren(cardView(card)),
          (error: unknown) => below.replaceChildren(h('p', { role: 'alert' }, refusal(error))),
        );
      });
      return h('li', null, button);
    }),
  );
  return h('div', { 'data-building': opens.building_id }, h('h2', null, t('building', { address: opens.address })), printPlatesLink(opens.building_id), h('p', null, t('units', { n: opens.units.length })), list, below);
}

/**
 * Mounts the panel of the plate `token` into a new element: it opens what the plate opens, or
 * says why not. Answers the element and its teardown.
 */
export function mountPlate(token: string): { element: HTMLElement; destroy: () => void } {
  const element = h('section', { class: 'rg-field rg-plate', 'aria-live': 'polite' });
  let stopped = false;
  let answer: Promise<PlateOpens> | undefined;
  const show = async () => {
    element.replaceChildren(h('h1', null, t('heading')), h('p', null, t('loading')));
    const close = h('button', { type: 'button', class: 'rg-plate-close' }, t('close'));
    close.addEventListener('click', () => {
      const q = new URLSearchParams(window.location.search);
      q.delete('plate');
      window.history.replaceState(null, '', `?${q.toString()}`);
      element.remove();
    });
    let body: HTMLElement;
    try {
      const opens = await (answer ??= fetchPlate(token));
      body = opens.unit ? cardView(opens.unit) : buildingView(opens);
    } catch (error) {
      answer = undefined;
      body = h('p', { role: 'alert', class: 'rg-plate-refused' }, refusal(error));
    }
    if (!stopped) element.replaceChildren(h('header', { class: 'rg-field-head' }, h('h1', null, t('heading')), close), body);
  };
  void show();
  const off = onLangChange(() => void show());
  return {
    element,
    destroy: () => {
      stopped = true;
      off();
    },
  };
}
