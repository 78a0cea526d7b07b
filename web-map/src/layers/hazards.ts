/**
 * Hazard cases (隐患) from `GET /api/hazards`: one point per case at its building, coloured by how
 * late it is (on time, 黄 past its deadline, 红 past it by more than its kind allows); open cases
 * only unless the legend's box asks for the closed ones too. Clicking a building's point shows
 * its cases with their history and photos; the command center and supervisors assign a case to
 * a caseworker of its grid (交办), verify a rectified one (验收) or reopen it (重新打开) there.
 */
import type { GeoJSONSource, MapGeoJSONFeature } from 'maplibre-gl';
import type * as G from 'geojson';
import {
  ApiError,
  fetchCoverage,
  fetchGridStatuses,
  fetchHazard,
  fetchHazards,
  moveHazard,
  type HazardCase,
  type HazardList,
  type HazardMove,
} from '../api';
import { defineStrings } from '../i18n';
import { me } from '../session';
import { h } from '../ui/dom';
import { randomUuid } from '../offline/outbox';
import { caseFacts, kindName, SEVERITIES, th, URGENCY_COLORS, urgencyClass } from '../hazards/words';
import { colorBy, hovered, selected } from './expressions';
import type { LayerContext, MapLayer, SlottedLayer } from './types';

const t = defineStrings(
  'hazardLayer',
  {
    title: '隐患（整治）',
    note: '按整改期限着色，截至 {date}',
    onTime: '未超期',
    yellow: '黄：超过整改期限',
    red: '红：超期超过本类允许的天数',
    closed: '已验收（关闭）',
    showClosed: '显示已验收的隐患',
    status: '未结 {open} 起，黄 {yellow} 起，红 {red} 起',
    popupTitle: '隐患 · {n} 起',
    assignTo: '交办给',
    assign: '交办',
    verify: '验收',
    reopen: '重新打开',
    reopenWhy: '重新打开的原因（必填）',
    reopenAs: '重新认定严重程度',
    severityNow: '（改为{severity}）',
    needWhy: '请写明重新打开的原因',
    noCaseworker: '本网格没有包干综管员',
    caseworker: '综管员 {id}',
    done: '✓ 已{move}',
    failed: '未能{move}：{detail}',
    history: '经过',
    event: '{on} {status} · {user}{note}',
    photos: '照片',
    moved_assign: '交办',
    moved_verify: '验收',
    moved_reopen: '重新打开',
    moved_rectified: '整改',
  },
  {
    title: 'Hazards (隐患)',
    note: 'Coloured by the rectification deadline, as of {date}',
    onTime: 'On time',
    yellow: 'Yellow: past the deadline',
    red: 'Red: past it by more than the kind allows',
    closed: 'Verified (closed)',
    showClosed: 'Show verified cases',
    status: '{open} open, {yellow} yellow, {red} red',
    popupTitle: 'Hazards · {n}',
    assignTo: 'Assign to',
    assign: 'Assign',
    verify: 'Verify',
    reopen: 'Reopen',
    reopenWhy: 'Why it is reopened (required)',
    reopenAs: 'Severity now',
    severityNow: ' (now {severity})',
    needWhy: 'Say why the case is reopened',
    noCaseworker: 'No caseworker is contracted for this grid',
    caseworker: 'Caseworker {id}',
    done: '✓ {move} done',
    failed: 'Could not {move}: {detail}',
    history: 'History',
    event: '{on} {status} · {user}{note}',
    photos: 'Photos',
    moved_assign: 'assign',
    moved_verify: 'verify',
    moved_reopen: 'reopen',
    moved_rectified: 'rectify',
  },
);

const SOURCE = 'hazards';
const CIRCLES = 'hazards-circles';

const styleLayers: SlottedLayer[] = [
  {
    slot: 'overlay',
    layer: {
      id: CIRCLES,
      type: 'circle',
      source: SOURCE,
      paint: {
        'circle-color': colorBy('color_class', URGENCY_COLORS, URGENCY_COLORS.on_time),
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 11, 4, 16, 8] as never,
        'circle-stroke-color': ['case', selected, '#14213d', '#ffffff'] as never,
        'circle-stroke-width': ['case', ['any', hovered, selected], 3, 1.5] as never,
      },
    },
  },
];

/** The cases as map points; each carries its colour class (`on_time`, `yellow`, `red`, `closed`). */
function toFeatures(list: HazardList): G.FeatureCollection<G.Point> {
  return {
    type: 'FeatureCollection',
    features: list.hazards.map((c) => ({
      type: 'Feature',
      id: c.id,
      geometry: { type: 'Point', coordinates: [c.lon, c.lat] },
      properties: { id: c.id, building_id: c.building_id, color_class: urgencyClass(c), status: c.status, severity: c.severity },
    })),
  };
}

/** The caseworkers contracted for each grid (by code), with their names: asked once per map. */
let roster: Promise<Map<string, { id: number; name: string }[]>> | undefined;
function caseworkersByGrid(): Promise<Map<string, { id: number; name: string }[]>> {
  return (roster ??= Promise.all([fetchCoverage(), fetchGridStatuses()])
    .then(([coverage, rows]) => {
      const codes = new Map(rows.flatMap((r) => (r.grid_id === null || r.grid_id === undefined ? [] : [[r.grid_id, r.code] as const])));
      const byGrid = new Map<string, { id: number; name: string }[]>();
      for (const f of coverage.features) {
        const p = f.properties;
        if (!('caseworker_id' in p)) continue;
        for (const g of p.grids ?? []) {
          const code = codes.get(g);
          if (code === undefined) continue;
          byGrid.set(code, [...(byGrid.get(code) ?? []), { id: p.caseworker_id, name: p.name }]);
        }
      }
      return byGrid;
    })
    .catch((error: unknown) => {
      roster = undefined;
      throw error;
    }));
}

/** Creates the hazards layer. */
export function createHazardsLayer(): MapLayer {
  let data: HazardList | undefined;
  let showClosed = false;
  let context: LayerContext | undefined;
  const role = me()?.role;
  const mayDecide = role === 'center' || role === 'supervisor';

  const load = async (ctx: LayerContext) => {
    data = await fetchHazards({ open: !showClosed });
    (ctx.map.getSource(SOURCE) as GeoJSONSource | undefined)?.setData(toFeatures(data));
    ctx.refreshLegend();
  };

  /** The buttons of the moves the case may make now, for who may make them. */
  const actions = (c: HazardCase, redraw: (c: HazardCase) => void): HTMLElement | null => {
    if (!mayDecide) return null;
    const box = h('div', { class: 'rg-hazard-actions' });
    const message = h('p', { class: 'rg-hazard-message', role: 'status', hidden: true });
    const send = async (move: HazardMove, body: { caseworker_id?: number; note?: string; severity?: string }, buttons: HTMLButtonElement[]) => {
      for (const b of buttons) b.disabled = true;
      try {
        const answer = await moveHazard(c.id, move, { client_id: randomUuid(), ...body });
        if (context) await load(context).catch(context.reportError);
        redraw(answer.hazard);
      } catch (error) {
        message.textContent = t('failed', { move: t(`moved_${move}`), detail: error instanceof ApiError ? error.message : String(error) });
        message.hidden = false;
        for (const b of buttons) b.disabled = false;
      }
    };
    if (c.status === 'found' || c.status === 'assigned' || c.status === 'reopened') {
      const select = h('select', { class: 'rg-hazard-assignee', 'aria-label': t('assignTo') });
      const assign = h('button', { type: 'button', class: 'rg-hazard-assign' }, t('assign'));
      assign.disabled = true;
      void caseworkersByGrid()
        .then((byGrid) => {
          const workers = byGrid.get(c.grid_code) ?? [];
          select.replaceChildren(
            ...workers.map((w) => h('option', { value: w.id, selected: w.id === c.assignee_id }, `${w.name}（${t('caseworker', { id: w.id })}）`)),
          );
          assign.disabled = workers.length === 0;
          if (!workers.length) {
            message.textContent = t('noCaseworker');
            message.hidden = false;
          }
        })
        .catch((error: unknown) => {
          message.textContent = t('failed', { move: t('moved_assign'), detail: error instanceof Error ? error.message : String(error) });
          message.hidden = false;
        });
      assign.addEventListener('click', () => void send('assign', { caseworker_id: Number(select.value) }, [assign]));
      box.append(h('label', null, t('assignTo'), ' ', select), assign);
    }
    if (c.status === 'rectified') {
      const verify = h('button', { type: 'button', class: 'rg-hazard-verify' }, t('verify'));
      verify.addEventListener('click', () => void send('verify', {}, [verify]));
      box.append(verify);
    }
    if (c.status === 'rectified' || c.status === 'verified') {
      const why = h('input', { type: 'text', class: 'rg-hazard-why', maxlength: 500, placeholder: t('reopenWhy'), 'aria-label': t('reopenWhy') });
      // A supervisor may judge the case worse than it was (never milder): its new deadline follows.
      const worse = SEVERITIES.slice(SEVERITIES.indexOf(c.severity));
      const severity = h(
        'select',
        { class: 'rg-hazard-reopen-severity', 'aria-label': t('reopenAs') },
        ...worse.map((s) => h('option', { value: s, selected: s === c.severity }, th(s))),
      );
      const reopen = h('button', { type: 'button', class: 'rg-hazard-reopen' }, t('reopen'));
      reopen.addEventListener('click', () => {
        const note = why.value.trim();
        if (!note) {
          message.textContent = t('needWhy');
          message.hidden = false;
          return;
        }
        void send('reopen', severity.value === c.severity ? { note } : { note, severity: severity.value }, [reopen]);
      });
      box.append(why, h('label', null, t('reopenAs'), ' ', severity), reopen);
    }
    return box.childElementCount ? h('div', null, box, message) : null;
  };

  /** One case in the popup: what it is, where it stands, its moves, history and photos. */
  const caseCard = (c: HazardCase): HTMLElement => {
    const card = h('article', { class: 'rg-hazard-card', 'data-hazard': c.id });
    const draw = (now: HazardCase) => {
      const cls = urgencyClass(now);
      card.dataset.urgency = cls;
      card.dataset.status = now.status;
      const history = h('ol', { class: 'rg-hazard-history', 'aria-label': t('history') });
      const photos = h('div', { class: 'rg-hazard-photos' });
      card.replaceChildren(
        h('h4', null, h('span', { class: 'rg-dot', style: `background:${URGENCY_COLORS[cls]}` }), ` #${now.id} ${kindName(now)}`),
        caseFacts(now),
        ...(now.note ? [h('p', { class: 'rg-hazard-note' }, now.note)] : []),
        actions(now, draw) ?? '',
        history,
        photos,
      );
      void fetchHazard(now.id)
        .then((detail) => {
          history.replaceChildren(
            ...detail.events.map((e) =>
              h(
                'li',
                null,
                t('event', { on: e.on, status: th(`st_${e.status}`), user: e.username, note: e.note ? `：${e.note}` : '' }),
                // A reopening that judged the case worse says so (the first move names the severity found).
                e.status === 'reopened' && e.severity ? t('severityNow', { severity: th(e.severity) }) : '',
              ),
            ),
          );
          photos.replaceChildren(
            ...detail.photos.map((p) => h('a', { href: p.href, target: '_blank', rel: 'noopener' }, h('img', { src: p.href, alt: t('photos'), loading: 'lazy' }))),
          );
        })
        .catch(() => undefined);
    };
    draw(c);
    return card;
  };

  /** The popup's section: every shown case of the clicked point's building, the latest first. */
  const renderPopup = (feature: MapGeoJSONFeature): HTMLElement => {
    const building = Number((feature.properties as Record<string, unknown>).building_id);
    const cases = (data?.hazards ?? []).filter((c) => c.building_id === building);
    return h(
      'section',
      { class: 'rg-hazard-popup', 'data-building': building },
      h('header', null, h('h3', null, t('popupTitle', { n: cases.length }))),
      ...cases.map(caseCard),
    );
  };

  return {
    id: 'hazards',
    styleLayers,
    hoverLayerId: CIRCLES,
    async attach(ctx) {
      context = ctx;
      ctx.map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
      await load(ctx);
    },
    refresh(ctx) {
      load(ctx).catch(ctx.reportError);
    },
    refreshChanged(ctx, change) {
      // Pushed: a case of one of the caller's grids was recorded or moved.
      if (change.kind === 'hazards') load(ctx).catch(ctx.reportError);
    },
    legend() {
      const counts = data?.counts;
      const open = (data?.hazards ?? []).filter((c) => c.status !== 'verified');
      const count = (cls: string) => String(open.filter((c) => urgencyClass(c) === cls).length);
      const box = h('input', { type: 'checkbox', class: 'rg-hazard-show-closed', checked: showClosed });
      box.addEventListener('change', () => {
        showClosed = box.checked;
        if (context) load(context).catch(context.reportError);
      });
      return {
        title: t('title'),
        note: t('note', { date: data?.as_of ?? '…' }),
        items: [
          { swatch: { type: 'circle', color: URGENCY_COLORS.on_time }, label: t('onTime'), count: count('on_time') },
          { swatch: { type: 'circle', color: URGENCY_COLORS.yellow }, label: t('yellow'), count: count('yellow') },
          { swatch: { type: 'circle', color: URGENCY_COLORS.red }, label: t('red'), count: count('red') },
          ...(showClosed
            ? [{ swatch: { type: 'circle' as const, color: URGENCY_COLORS.closed }, label: t('closed'), count: String((data?.hazards.length ?? 0) - open.length) }]
            : []),
        ],
        ...(counts ? { status: t('status', counts) } : {}),
        controls: h('label', { class: 'rg-legend-controls' }, box, t('showClosed')),
      };
    },
    popup: { layerIds: [CIRCLES], render: renderPopup },
  };
}
