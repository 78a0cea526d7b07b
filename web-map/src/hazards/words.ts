/**
 * What the phone view and the command-center map say about hazard cases (隐患): the words for
 * severities, statuses and lateness in both languages, the colours of lateness, and the kinds of
 * hazard as configured on the server (fetched once per page; offline, the kept answer).
 */
import { fetchHazardKinds, type HazardCase, type HazardKinds, type HazardSeverity, type HazardUrgency } from '../api';
import { defineStrings, getLang } from '../i18n';
import { h } from '../ui/dom';
import './hazards.css';

export const th = defineStrings(
  'hazards',
  {
    title: '隐患',
    minor: '一般',
    major: '较大',
    severe: '重大',
    st_found: '发现',
    st_assigned: '已交办',
    st_rectified: '已整改',
    st_verified: '已验收',
    st_reopened: '重新打开',
    on_time: '未超期',
    yellow: '黄',
    red: '红',
    closed: '已验收（关闭）',
    kind: '类别',
    severity: '严重程度',
    status: '状态',
    address: '地址',
    found: '发现',
    due: '整改期限',
    dueOn: '整改期限 {date}',
    overdue: '超期',
    overdueDays: '超期 {n} 天',
    unitNo: '出租房 {id}',
    noKinds: '未能读取隐患类别：{detail}',
  },
  {
    title: 'Hazards',
    minor: 'minor',
    major: 'major',
    severe: 'severe',
    st_found: 'found',
    st_assigned: 'assigned',
    st_rectified: 'rectified',
    st_verified: 'verified (closed)',
    st_reopened: 'reopened',
    on_time: 'on time',
    yellow: 'yellow',
    red: 'red',
    closed: 'verified (closed)',
    kind: 'Kind',
    severity: 'Severity',
    status: 'Status',
    address: 'Address',
    found: 'Found',
    due: 'Rectify by',
    dueOn: 'rectify by {date}',
    overdue: 'Overdue',
    overdueDays: '{n} {n|day|days} overdue',
    unitNo: 'rental unit {id}',
    noKinds: 'Could not read the kinds of hazard: {detail}',
  },
);

/** Colours of lateness (the map's circles, the legend, the badges), and of a closed case. */
export const URGENCY_COLORS: Record<HazardUrgency | 'closed', string> = {
  on_time: '#1e88e5',
  yellow: '#f9a825',
  red: '#c62828',
  closed: '#9e9e9e',
};

/** The severities, least serious first. */
export const SEVERITIES: readonly HazardSeverity[] = ['minor', 'major', 'severe'];

/** A case's colour class: its lateness, or `closed` once verified. */
export function urgencyClass(c: Pick<HazardCase, 'status' | 'urgency'>): HazardUrgency | 'closed' {
  return c.status === 'verified' ? 'closed' : c.urgency;
}

/** A kind's name in the current language (Chinese with the English after it in English). */
export function kindName(c: Pick<HazardCase, 'kind_zh' | 'kind_en'>): string {
  return getLang() === 'en' ? `${c.kind_en} (${c.kind_zh})` : c.kind_zh;
}

/** The badge of a case's lateness: 黄 / 红 with the days overdue, or on time. */
export function urgencyBadge(c: Pick<HazardCase, 'status' | 'urgency' | 'days_overdue'>): HTMLElement {
  const cls = urgencyClass(c);
  const text = cls === 'closed' ? th('closed') : cls === 'on_time' ? th('on_time') : `${th(cls)} · ${th('overdueDays', { n: c.days_overdue })}`;
  return h('span', { class: `rg-hazard-badge rg-hazard-${cls}`, 'data-urgency': cls }, text);
}

/** What the map's popup shows of a case: kind, severity, status, address, found, deadline, lateness. */
export function caseFacts(c: HazardCase): HTMLElement {
  const row = (term: string, desc: string | Node) => [h('dt', null, term), h('dd', null, desc)];
  return h(
    'dl',
    { class: 'rg-hazard-facts' },
    ...row(th('kind'), kindName(c)),
    ...row(th('severity'), th(c.severity)),
    ...row(th('status'), h('span', { class: 'rg-hazard-status', 'data-status': c.status }, th(`st_${c.status}`))),
    ...row(th('address'), `${c.address}${c.unit_id !== null ? ` · ${th('unitNo', { id: c.unit_id })}` : ''}`),
    ...row(th('found'), `${c.found_on} · ${c.found_by}`),
    ...row(th('due'), c.due_on),
    ...row(th('overdue'), urgencyBadge(c)),
  );
}

/** One line of a case for a list: kind and severity, status, deadline and its badge. */
export function caseLine(c: HazardCase): HTMLElement {
  return h(
    'div',
    { class: 'rg-hazard-line' },
    h('strong', null, kindName(c)),
    ` · ${th(c.severity)} · `,
    h('span', { class: 'rg-hazard-status', 'data-status': c.status }, th(`st_${c.status}`)),
    h('br'),
    `${c.address}${c.unit_id !== null ? ` · ${th('unitNo', { id: c.unit_id })}` : ''}`,
    h('br'),
    th('dueOn', { date: c.due_on }),
    ' ',
    urgencyBadge(c),
  );
}

let kinds: Promise<HazardKinds> | undefined;

/** The configured kinds and severities (asked once per page; a failure is asked again next time). */
export function hazardKinds(): Promise<HazardKinds> {
  return (kinds ??= fetchHazardKinds().catch((error: unknown) => {
    kinds = undefined;
    throw error;
  }));
}
