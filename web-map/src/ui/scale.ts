/**
 * The display scale (显示比例) of every view: how much the UI (title bar, panels, legend, popups,
 * pages) is enlarged so that a 4K screen or wall reads as a desktop does. `auto` follows the
 * window's width (1 up to 1600 px, 2.4 at 3840 px, at most 3), so desktops and phones stay at 1; a
 * fixed factor can be chosen (kept on the device) or given as `?scale=`. It is applied as the CSS
 * variable `--rg-scale` on the root element, which the style sheets use as `zoom` of the chrome.
 */
import { defineStrings, onLangChange } from '../i18n';
import { h } from './dom';

const t = defineStrings('scale', { scale: '显示比例', auto: '自动' }, { scale: 'Scale', auto: 'Auto' });

/** The settings offered. */
export const SCALES = ['auto', '1', '1.5', '2', '2.5', '3'] as const;
const SCALE_KEY = 'rentgrid.scale';
/** The window width that `auto` draws at 1×. */
const BASE_WIDTH = 1600;

const isScale = (s: string | null): s is string => s !== null && (SCALES as readonly string[]).includes(s);

function initialSetting(): string {
  const fromQuery = new URLSearchParams(window.location.search).get('scale');
  if (isScale(fromQuery)) return fromQuery;
  try {
    const stored = window.localStorage.getItem(SCALE_KEY);
    if (isScale(stored)) return stored;
  } catch {
    // Storage can be disabled; auto is fine then.
  }
  return 'auto';
}

let setting = initialSetting();
let applied = 0;
const listeners = new Set<(factor: number) => void>();

/** The factor the setting means now. */
export function scaleFactor(): number {
  if (setting !== 'auto') return Number(setting);
  return Math.min(3, Math.max(1, window.innerWidth / BASE_WIDTH));
}

/** Sets `--rg-scale` and tells the listeners when the factor changed. */
function apply(): void {
  const factor = scaleFactor();
  if (factor === applied) return;
  applied = factor;
  document.documentElement.style.setProperty('--rg-scale', String(factor));
  for (const listener of listeners) listener(factor);
}

/** Applies the scale and follows the window's size; call once when the page starts. */
export function startScale(): void {
  apply();
  window.addEventListener('resize', apply);
}

/** Calls `listener` with the new factor after every change; returns a function that stops it. */
export function onScaleChange(listener: (factor: number) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The scale picker: a label and a select of [`SCALES`]; a choice is kept on this device. */
export function createScalePicker(): { element: HTMLElement; destroy: () => void } {
  const select = h('select', { class: 'rg-scale-select' });
  const label = h('span');
  const element = h('label', { class: 'rg-scale-box' }, label, select);
  const render = () => {
    label.textContent = t('scale');
    select.replaceChildren(...SCALES.map((v) => h('option', { value: v, selected: v === setting }, v === 'auto' ? t('auto') : `${v}×`)));
  };
  select.addEventListener('change', () => {
    setting = select.value;
    try {
      window.localStorage.setItem(SCALE_KEY, setting);
    } catch {
      // Not kept; it still applies now.
    }
    apply();
  });
  const off = onLangChange(render);
  render();
  return { element, destroy: off };
}
