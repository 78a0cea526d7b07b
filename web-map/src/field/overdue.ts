/**
 * The phone's short list of overdue visits (逾期未走访): how many of the caseworker's buildings
 * with rental units are overdue for a visit, and which, longest overdue first (never visited
 * before all), from `GET /api/overdue?caseworker=&limit=20`. Collapsed to one line until opened.
 */
import { fetchOverdue } from '../api';
import { defineStrings } from '../i18n';
import { OVERDUE_LEVELS, overdueLevel, tOverdue } from '../layers/overdue';
import { h } from '../ui/dom';

const t = defineStrings(
  'fieldOverdue',
  {
    summary: '逾期未走访 {n} 栋',
    since: '{days} 天未走访（期限 {limit} 天）',
    more: '另有 {n} 栋',
    unknown: '逾期未走访：联网后显示',
  },
  {
    summary: '{n} {n|building|buildings} overdue for a visit',
    since: 'not visited for {days} {days|day|days} (limit {limit})',
    more: '{n} more',
    unknown: 'Overdue visits: shown when online',
  },
);

/** How many buildings the phone lists (and asks for). */
export const OVERDUE_LISTED = 20;

/** The section of caseworker `caseworker`'s overdue buildings; filled when the list arrives. */
export function overdueSection(caseworker: number): HTMLElement {
  const section = h('details', { class: 'rg-field-overdue' }, h('summary', null, '…'));
  fetchOverdue(caseworker, OVERDUE_LISTED)
    .then((list) => {
      const items = list.buildings.slice(0, OVERDUE_LISTED).map((b) => {
        const level = overdueLevel(b);
        const color = OVERDUE_LEVELS.find(([l]) => l === level)?.[1] ?? '#888888';
        const when = b.days_since === null ? tOverdue('never') : t('since', { days: b.days_since, limit: b.limit_days });
        return h('li', { 'data-building': b.building_id, 'data-level': level }, h('span', { class: 'rg-dot', style: `background:${color}` }), h('strong', null, b.address), h('br'), `${b.grid_code} · ${when}`);
      });
      const rest = list.number_matched - items.length;
      section.dataset.count = String(list.number_matched);
      section.replaceChildren(h('summary', null, t('summary', { n: list.number_matched })), h('ul', null, ...items), ...(rest > 0 ? [h('p', null, t('more', { n: rest }))] : []));
    })
    .catch(() => section.replaceChildren(h('summary', null, t('unknown'))));
  return section;
}
