/**
 * The rentgrid web map: the title bar, the map composed from the layer registry, the legend and the
 * popups. Everything it loads comes from the page's own origin.
 */
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
// The worker is bundled as an asset of its own; MapLibre cannot find it next to a bundled module.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { Map as MapLibreMap, NavigationControl, ScaleControl, setWorkerUrl } from 'maplibre-gl';
import { fetchDataVersion, fetchDistrict } from './api';
import { getLang, onLangChange, setLang, t } from './i18n';
import { subscribe } from './live';
import { createLayers } from './layers';
import { createHeatLayer } from './layers/heat';
import { createHotspotsLayer } from './layers/hotspots';
import { createLeadersPanel } from './leaders/panel';
import { createCampaignLayer } from './layers/campaign';
import { createCampaignPanel } from './campaign/panel';
import { mountAssessment } from './assessment/page';
import { createCandidatesLayer } from './layers/candidates';
import { createHazardsLayer } from './layers/hazards';
import { createGridsLayer } from './layers/grids';
import { mountField } from './field/view';
import { createBasemapLayer } from './layers/basemap';
import { isTiandituError } from './layers/tianditu';
import { mapOptions } from './map-options';
import { createLabelsLayer } from './layers/labels';
import { followLabelScale } from './layers/label-scale';
import { createCoverageLayer } from './layers/coverage';
import { createCoveragePanel } from './coverage/panel';
import type { ScreenPanel } from './screen/panel';
import { SLOTS, type LayerContext, type MapLayer } from './layers/types';
import { h, isNarrowScreen } from './ui/dom';
import { bindInteraction, type Popups } from './ui/interaction';
import { createLegend, type Legend } from './ui/legend';
import { createSnapshotButton } from './ui/snapshot';
import { createMapFrame, scopeBounds } from './ui/frame';
import { createUserBar } from './ui/userbar';
import { scaleFactor, startScale } from './ui/scale';
import { createSearchBox, showResult } from './ui/search';
import type { SearchResult } from './api';
import { mountDrill } from './drill';
import { mountLogin } from './login/page';
import { mountAccount } from './account/page';
import { allowedViews, landingQuery, loadMe, me, onSessionExpired } from './session';

setWorkerUrl(workerUrl);

declare global {
  interface Window {
    /** For tests and the console: the live map, and a check for new data (as the timer does). */
    __rentgrid?: { map: MapLibreMap; checkForUpdates?: () => Promise<void> };
  }
}

/**
 * Room kept free around a fitted place besides the panels (`ui/frame.ts`): the legend covers the
 * right on wide screens (as wide as the display scale makes it) and, collapsed, the top on phones.
 */
function fitPadding() {
  const k = scaleFactor();
  return isNarrowScreen()
    ? { top: 64, bottom: 40, left: 16, right: 16 }
    : { top: 32 * k, bottom: 32 * k, left: 32 * k, right: 360 * k };
}

/** `?view=leaders` opens the leaders' view (领导视图): aggregates only. */
const view = new URLSearchParams(window.location.search).get('view');
const leadersView = view === 'leaders';
/** `?view=coverage` opens the coverage view (包干): contracted areas, loads and proposals. */
const coverageView = view === 'coverage';
/**
 * `?view=campaign` opens the 蚕食法 campaign map: blocks by phase, the day's routes, candidate
 * buildings and the open hazard cases (整治); `?view=field` the caseworker's phone list of the
 * day's stops.
 */
const campaignView = view === 'campaign';
/**
 * `?view=screen` opens the command center's big screen (指挥中心大屏): the grid map between KPI
 * cards, charts, the street ranking and the latest visits, for a wall as for a desktop.
 */
const screenView = view === 'screen';

/**
 * How often the map asks whether the data changed (a visit recorded elsewhere, an import) while
 * the server's stream of changes is down, and how often what a pushed change leaves out follows.
 */
const UPDATE_CHECK_MS = 30_000;

/** Builds the app inside `root`; returns the function that tears it down again. */
function mount(root: HTMLElement): () => void {
  const disposers: (() => void)[] = [];
  let stopped = false;
  let districtName = '';
  let legend: Legend | undefined;
  let popups: Popups | undefined;

  const nameEl = h('span', { class: 'rg-district' });
  const titleEl = h('span', { class: 'rg-title' });
  const langButton = h('button', { type: 'button', class: 'rg-lang' });
  const userBar = createUserBar();
  disposers.push(userBar.destroy);
  // The search box: results are shown once the map and its popups are there.
  let showSearchResult: (result: SearchResult) => void = () => {};
  const searchBox = createSearchBox((result) => showSearchResult(result));
  disposers.push(searchBox.destroy);
  const viewLink = h('a', { class: 'rg-view', href: leadersView || campaignView ? './' : '?view=leaders' });
  const coverageLink = h('a', { class: 'rg-view rg-view-coverage', href: coverageView ? './' : '?view=coverage' });
  const screenLink = h('a', { class: 'rg-view rg-view-screen', href: screenView ? './' : '?view=screen' });
  const campaignLink = h('a', { class: 'rg-view rg-view-campaign', href: '?view=campaign' });
  const assessmentLink = h('a', { class: 'rg-view rg-view-assessment', href: '?view=assessment' });
  const heading = h('h1', null, h('span', { class: 'rg-brand' }, 'rentgrid'), h('span', { class: 'rg-sep' }, ' · '), nameEl, ' ', titleEl);
  const header = h(
    'header',
    { class: 'rg-header' },
    heading,
    searchBox.element,
    h('nav', { class: 'rg-nav' }, screenLink, coverageLink, campaignLink, assessmentLink, viewLink, userBar.element, langButton),
  );
  const may = allowedViews(me()?.role ?? 'leader');
  coverageLink.hidden = !may.includes(coverageView ? '' : 'coverage');
  screenLink.hidden = !may.includes(screenView ? '' : 'screen');
  viewLink.hidden = !may.includes(leadersView || campaignView ? '' : 'leaders');
  campaignLink.hidden = campaignView || !may.includes('campaign');
  assessmentLink.hidden = !may.includes('assessment');
  const mapEl = h('div', { class: 'rg-map' });
  const banner = h('div', { class: 'rg-banner', role: 'alert', hidden: true });
  const loadingText = h('span');
  const loading = h('div', { class: 'rg-loading', role: 'status' }, h('span', { class: 'rg-spinner' }), loadingText);
  const main = h('main', { class: screenView ? 'rg-main rg-main-screen' : 'rg-main' }, mapEl, banner, loading);
  root.replaceChildren(header, main);

  const renderChrome = () => {
    nameEl.textContent = districtName;
    // The title bar has room for the short title beside the search box and the links; the full
    // one is the heading's tooltip.
    titleEl.textContent = t('appTitleShort');
    heading.title = `${districtName} ${t('appTitle')}`.trim();
    langButton.textContent = t('switchLang');
    viewLink.textContent = leadersView || campaignView ? t('fullView') : t('leadersView');
    coverageLink.textContent = coverageView ? t('fullView') : t('coverageView');
    screenLink.textContent = screenView ? t('fullView') : t('screenView');
    campaignLink.textContent = t('campaignView');
    assessmentLink.textContent = t('assessmentView');
    langButton.setAttribute('aria-label', t('switchLangLabel'));
    loadingText.textContent = t('loading');
    document.title = districtName ? t('documentTitle', { district: districtName }) : `rentgrid · ${t('appTitle')}`;
  };
  langButton.addEventListener('click', () => setLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
  disposers.push(
    onLangChange(() => {
      renderChrome();
      legend?.render();
      popups?.refresh();
    }),
  );
  renderChrome();

  const showError = (error: unknown) => {
    console.error(error);
    const detail = error instanceof Error ? error.message : String(error);
    banner.textContent = t('loadFailed', { detail });
    banner.hidden = false;
  };

  const start = async () => {
    const district = await fetchDistrict();
    // The view opens on the places in the user's scope (a supervisor's street), not the district.
    const home = await scopeBounds(district.bbox);
    if (stopped) return;
    districtName = district.name;
    renderChrome();

    const map = new MapLibreMap({
      ...mapOptions(),
      container: mapEl,
      bounds: home,
      fitBoundsOptions: { padding: fitPadding() },
    });
    const frame = createMapFrame(map, fitPadding);
    // Fitted again once the panels are there, into what they leave free.
    frame.fit(home, { duration: 0 });
    map.touchZoomRotate.disableRotation();
    map.addControl(new NavigationControl({ showCompass: false }), 'bottom-right');
    map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-left');
    // Tianditu's tiles failing is handled by the basemap choice (back to the offline basemap).
    map.on('error', (event) => {
      if (!isTiandituError(event)) showError(event.error);
    });
    window.__rentgrid = { map };
    disposers.push(() => {
      frame.destroy();
      map.remove();
      delete window.__rentgrid;
    });

    await map.once('load');
    if (stopped) return;

    const hotspots = leadersView ? createHotspotsLayer() : undefined;
    const coverage = coverageView ? createCoverageLayer() : undefined;
    const campaign = campaignView ? createCampaignLayer() : undefined;
    // Place names go last, above everything (the grids' names where the view draws grids).
    const layers = hotspots
      ? [createBasemapLayer(), createHeatLayer(), hotspots, createLabelsLayer({ grids: false })]
      : coverage
        ? [createBasemapLayer(), coverage, createLabelsLayer({ grids: false })]
        : campaign
          ? [
              createBasemapLayer(),
              createGridsLayer(),
              campaign,
              createCandidatesLayer(),
              createHazardsLayer(),
              createLabelsLayer({ grids: true }),
            ]
          : screenView
            ? [createBasemapLayer(), createGridsLayer(), createLabelsLayer({ grids: false })]
            : createLayers();
    const visibility = new Map<string, boolean>(layers.map((layer) => [layer.id, true]));
    const ctx: LayerContext = {
      map,
      district,
      refreshLegend: () => legend?.render(),
      reportError: showError,
      fit: (bbox, options) => frame.fit(bbox, options),
    };
    const results = await Promise.allSettled(layers.map((layer) => layer.attach(ctx)));
    if (stopped) return;
    const attached: MapLayer[] = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        attached.push(layers[i]!);
        if (result.value) disposers.push(result.value);
      } else {
        showError(result.reason);
      }
    });

    // Sources are in; add the style layers slot by slot so each layer lands at its height.
    for (const slot of SLOTS) {
      for (const layer of attached) {
        for (const styled of layer.styleLayers) if (styled.slot === slot) map.addLayer(styled.layer);
      }
    }
    // Their text grows with the display scale, as the chrome around the map does.
    disposers.push(followLabelScale(map));

    const isVisible = (id: string) => visibility.get(id) ?? true;
    const title = () => t('documentTitle', { district: districtName });
    const snapshot = createSnapshotButton({ map, district, layers: attached, isVisible, title }, showError);
    disposers.push(snapshot.destroy);
    legend = createLegend({
      layers: attached,
      district,
      actions: snapshot.element,
      isVisible,
      setVisible: (id, visible) => {
        const layer = attached.find((l) => l.id === id);
        if (!layer) return;
        visibility.set(id, visible);
        for (const { layer: styled } of layer.styleLayers) {
          map.setLayoutProperty(styled.id, 'visibility', visible ? 'visible' : 'none');
        }
        layer.onVisibilityChange?.(visible);
        legend?.render();
      },
    });
    main.append(legend.element);
    if (hotspots && attached.includes(hotspots)) {
      const panel = await createLeadersPanel(district, hotspots, map, showError);
      if (stopped) return;
      main.append(panel.element);
      disposers.push(frame.cover(panel.element), () => panel.destroy());
    }
    if (coverage && attached.includes(coverage)) {
      const panel = await createCoveragePanel(coverage, showError);
      if (stopped) return;
      main.append(panel.element);
      disposers.push(frame.cover(panel.element), () => panel.destroy());
    }
    let screen: ScreenPanel | undefined;
    if (screenView) {
      const role = me()?.role;
      // Its charts (ECharts) load with the big screen only.
      const { createScreenPanel } = await import('./screen/panel');
      screen = await createScreenPanel(district, role === 'center' || role === 'supervisor', showError);
      if (stopped) {
        screen.destroy();
        return;
      }
      main.append(screen.element);
      disposers.push(() => screen?.destroy());
      map.resize();
    }
    const bound = bindInteraction(map, attached);
    popups = bound;
    disposers.push(() => bound.destroy());
    // The campaign view's panel: the campaign shown, new ones planned, the day's route sheets.
    if (campaign && attached.includes(campaign)) {
      const panel = createCampaignPanel(map, campaign, bound, showError);
      main.append(panel.element);
      disposers.push(frame.cover(panel.element), () => panel.destroy());
    }
    // The drill-down (district to household) in the full map and the leaders' view.
    const drill = coverageView || campaignView || screenView ? undefined : mountDrill(map, frame, !leadersView);
    if (drill) {
      main.append(drill.element);
      disposers.push(() => drill.destroy());
    }
    showSearchResult = (result) => {
      showResult(map, frame, bound, result);
      drill?.openSearchResult(result);
    };

    // When the server's data changes, layers reload their tiles: revalidated by ETag, only the
    // tiles over what changed come back with a body. A change pushed by the server reloads what
    // it touched at once; everything else (legend counts, panels) follows at most once per
    // interval. Without the stream (it dropped), the map asks for the data version instead.
    let version = await fetchDataVersion().catch(() => undefined);
    let behind = false;
    const refreshAll = (now: number) => {
      version = now;
      behind = false;
      for (const layer of attached) layer.refresh?.(ctx);
      void screen?.refresh();
    };
    // Brings everything up to date: a newer version, or pushed changes whose panels and legend
    // counts have not caught up yet.
    const checkForUpdates = async () => {
      const now = await fetchDataVersion();
      if (stopped || (now === version && !behind)) return;
      refreshAll(now);
    };
    const live = subscribe({
      onConnected: (up) => {
        if (up) document.documentElement.dataset.live = '1';
        else delete document.documentElement.dataset.live;
      },
      onEvent: (event) => {
        if (stopped) return;
        // A hazard case recorded or moved: no figure moved, the hazard cases are read again.
        if (event.kind === 'hazards') {
          for (const layer of attached) layer.refreshChanged?.(ctx, event);
          void screen?.refresh();
          return;
        }
        // Told already (a poll or a reload got there first).
        if (version !== undefined && event.version <= version && event.kind !== 'resync') return;
        if (event.kind === 'change' && version !== undefined) {
          version = event.version;
          behind = true;
          for (const layer of attached) layer.refreshChanged?.(ctx, event);
          void screen?.refresh();
        } else if (event.kind !== 'current' || version !== undefined) {
          // A reload, a resync, or changes missed while the stream was down.
          refreshAll(event.version);
        } else {
          version = event.version;
        }
      },
    });
    disposers.push(() => {
      live.close();
      delete document.documentElement.dataset.live;
    });
    const timer = setInterval(() => {
      if (!live.connected()) void checkForUpdates().catch(() => {});
      else if (behind && version !== undefined) refreshAll(version);
    }, UPDATE_CHECK_MS);
    disposers.push(() => clearInterval(timer));
    window.__rentgrid = { map, checkForUpdates };

    // The map may have gone idle already while the version was fetched: 'idle' fires once per
    // quiet spell, so waiting for the next one could wait for ever.
    if (!map.loaded()) await map.once('idle');
    if (stopped) return;
    loading.remove();
    // Tests wait for this: the map has loaded and drawn every layer's first data.
    if (attached.length === layers.length) document.documentElement.dataset.ready = '1';
  };

  start().catch((error: unknown) => {
    if (stopped) return;
    loading.remove();
    showError(error);
  });

  return () => {
    stopped = true;
    for (const dispose of disposers.reverse()) dispose();
    delete document.documentElement.dataset.ready;
  };
}

/**
 * Starts the page: the login page without a live session; otherwise the view asked for when the
 * user's role may open it, else the role's own view. When the session ends under the page, the
 * login page comes back; signing in again reloads the same view (a visit form's unsent answers
 * are kept on the device and sent then).
 */
async function boot(root: HTMLElement): Promise<() => void> {
  let unmount: () => void = () => {};
  const showLogin = (expired: boolean) => {
    unmount();
    unmount = mountLogin(root, {
      expired,
      onLogin: (user) => {
        const wanted = view ?? '';
        const stay = wanted !== '' && allowedViews(user.role).includes(wanted);
        window.location.assign(`${window.location.pathname}${stay ? window.location.search : landingQuery(user)}`);
      },
    });
  };
  startScale();
  onSessionExpired(() => showLogin(true));
  const user = await loadMe();
  if (!user) {
    showLogin(false);
  } else if (!allowedViews(user.role).includes(view ?? '') || (view === null && landingQuery(user) !== '')) {
    window.location.replace(`${window.location.pathname}${landingQuery(user)}`);
  } else {
    unmount =
      view === 'field' ? mountField(root) : view === 'account' ? mountAccount(root) : view === 'assessment' ? mountAssessment(root) : mount(root);
  }
  return () => unmount();
}

const appRoot = document.getElementById('app')!;
const stop = boot(appRoot).catch((error: unknown) => {
  // No answer from the server (offline, and nothing kept for this page): say so in words.
  const detail = error instanceof Error ? error.message : String(error);
  appRoot.replaceChildren(h('p', { class: 'rg-boot-failed', role: 'alert' }, navigator.onLine ? t('loadFailed', { detail }) : t('offlineEmpty')));
  return () => {};
});
import.meta.hot?.dispose(() => void stop.then((unmount) => unmount()));
