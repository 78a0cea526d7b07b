/**
 * The one zh-CN / en string table.
 *
 * Every piece of text the app shows is looked up here. The app's own strings (title bar, legend
 * chrome, errors) are declared in this file; each layer module declares its own strings next to its
 * style with `defineStrings`, which adds them to this same table under the layer's namespace. The
 * compiler checks that every key has both a Chinese and an English text.
 */

/** The languages the UI speaks; the first is the default. */
export const LANGS = ['zh-CN', 'en'] as const;
export type Lang = (typeof LANGS)[number];

/** Values substituted into `{name}` placeholders. */
export type Vars = Readonly<Record<string, string | number>>;

/** Looks up one key of a namespace in the current language. */
export type Translate<K extends string> = (key: K, vars?: Vars) => string;

const STORAGE_KEY = 'rentgrid.lang';

/** The table: language → `namespace.key` → text. */
const table: Record<Lang, Map<string, string>> = { 'zh-CN': new Map(), en: new Map() };

let current: Lang = initialLang();
const listeners = new Set<(lang: Lang) => void>();

function isLang(value: string | null): value is Lang {
  return (LANGS as readonly (string | null)[]).includes(value);
}

/** `?lang=en` wins, then the last choice made on this device, then zh-CN. */
function initialLang(): Lang {
  const fromQuery = new URLSearchParams(window.location.search).get('lang');
  if (isLang(fromQuery)) return fromQuery;
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    if (isLang(stored)) return stored;
  } catch {
    // Storage can be disabled (private mode, policies); the default is fine then.
  }
  return LANGS[0];
}

/** A value as a number for choosing its plural (`'1,234'` → 1234). */
const numberOf = (value: string | number): number => (typeof value === 'number' ? value : Number(value.replace(/[^\d.-]/g, '')));

/**
 * Fills `{name}` with `vars.name`, and `{name|one|other}` with `one` when `vars.name` takes the
 * singular in the current language, else `other` (English: `'{n} {n|person|persons}'`).
 */
function interpolate(text: string, vars: Vars | undefined): string {
  if (!vars) return text;
  return text
    .replace(/\{(\w+)\|([^|{}]*)\|([^|{}]*)\}/g, (match, name: string, one: string, other: string) =>
      name in vars ? (new Intl.PluralRules(current).select(numberOf(vars[name]!)) === 'one' ? one : other) : match,
    )
    .replace(/\{(\w+)\}/g, (match, name: string) => (name in vars ? String(vars[name]) : match));
}

/**
 * Adds a namespace of strings to the table and returns its typed translator. `en` must have exactly
 * the keys of `zh`.
 */
export function defineStrings<const K extends string>(
  namespace: string,
  zh: Readonly<Record<K, string>>,
  en: Readonly<Record<K, string>>,
): Translate<K> {
  for (const [lang, texts] of [['zh-CN', zh], ['en', en]] as const) {
    for (const key of Object.keys(texts) as K[]) {
      table[lang].set(`${namespace}.${key}`, texts[key]);
    }
  }
  return (key, vars) => interpolate(table[current].get(`${namespace}.${key}`) ?? key, vars);
}

/** The language the UI speaks now. */
export function getLang(): Lang {
  return current;
}

/** Switches the language, remembers it on this device and tells every listener. */
export function setLang(lang: Lang): void {
  if (lang === current) return;
  current = lang;
  document.documentElement.lang = lang;
  try {
    window.localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not remembered; the switch itself still applies.
  }
  for (const listener of listeners) listener(lang);
}

/** Calls `listener` after every language switch; returns a function that stops it. */
export function onLangChange(listener: (lang: Lang) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Strings of the app's chrome: title bar, legend panel, controls, errors. */
export const t = defineStrings(
  'app',
  {
    appTitle: '出租房屋与网格化管理',
    appTitleShort: '出租房屋与网格化管理',
    documentTitle: 'rentgrid · {district} 出租房屋与网格化管理',
    switchLang: 'EN',
    switchLangLabel: 'Switch to English',
    legend: '图层与图例',
    showLegend: '显示图例',
    hideLegend: '收起图例',
    loading: '正在加载地图…',
    loadFailed: '数据加载失败：{detail}',
    leadersView: '领导视图',
    coverageView: '包干',
    screenView: '大屏',
    campaignView: '清查行动',
    assessmentView: '考核',
    fullView: '返回全图',
    offlineEmpty: '没有网络，本机也还没有保存这个页面：请联网后再打开。',
  },
  {
    appTitle: 'Rental housing & grid management',
    appTitleShort: 'Rentals & grids',
    documentTitle: 'rentgrid · {district} rental housing & grid management',
    switchLang: '中文',
    switchLangLabel: '切换到中文',
    legend: 'Layers & legend',
    showLegend: 'Show legend',
    hideLegend: 'Hide legend',
    loading: 'Loading the map…',
    loadFailed: 'Could not load data: {detail}',
    leadersView: 'Leaders',
    coverageView: 'Coverage',
    screenView: 'Big screen',
    campaignView: 'Campaigns',
    assessmentView: 'Assessment',
    fullView: 'Back to the full map',
    offlineEmpty: 'No network, and this page is not kept on this device yet: open it once online.',
  },
);

document.documentElement.lang = current;
