/** Small DOM helpers: building elements from code (text always goes in as text, never as HTML). */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined>;

/** `h('td', { class: 'rg-num' }, '93.2%')` → `<td class="rg-num">93.2%</td>`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}

/** Whether the screen is phone-sized; matches the `max-width: 719px` rules in `style.css`. */
export function isNarrowScreen(): boolean {
  return window.matchMedia('(max-width: 719px)').matches;
}
