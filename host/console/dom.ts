/**
 * A small DOM builder. Text always goes in as text nodes, never as HTML, so nothing the server sends can become
 * markup; attributes go through `setAttribute`, and `style` is refused (the page's CSP has no `'unsafe-inline'`
 * for styles: style from script goes through `el.style`, the CSSOM).
 * @module
 */

/** A child of {@link h}: a node, a text, or nothing. */
export type Child = Node | string | number | null | undefined | false;
/** Attributes of {@link h}: `undefined` or `false` leaves one out, `true` sets it empty. */
export type Attrs = Record<string, string | number | boolean | undefined>;

/** Creates `<tag>` with `attrs` and `children`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (name === 'style') throw new Error('h(): set styles through el.style (CSP: no inline style attributes)');
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends `children` to `parent`, text as text nodes. */
export function append(parent: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** The element `selector` finds under `root`; throws when the page's markup lacks it (a bug, not a state). */
export function $<E extends Element = HTMLElement>(selector: string, root: ParentNode = document): E {
  const el = root.querySelector<E>(selector);
  if (el === null) throw new Error(`console: no element ${selector}`);
  return el;
}

/** Replaces the rows of `tbody`; with none, one row spanning every column says `empty`. */
export function setRows(tbody: HTMLTableSectionElement, rows: readonly HTMLTableRowElement[], empty: string): void {
  if (rows.length > 0) {
    tbody.replaceChildren(...rows);
    return;
  }
  const columns = tbody.closest('table')?.tHead?.rows[0]?.cells.length ?? 1;
  tbody.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: columns }, empty)));
}

/** Drops the "nothing yet" row of `tbody`, if it has one (before a live row goes in). */
export function dropEmptyRow(tbody: HTMLTableSectionElement): void {
  const first = tbody.rows[0];
  if (first?.classList.contains('empty')) first.remove();
}

/** Keeps at most `max` rows of `tbody` (the oldest, at the bottom, go). */
export function trimRows(tbody: HTMLTableSectionElement, max: number): void {
  while (tbody.rows.length > max) tbody.rows[tbody.rows.length - 1]!.remove();
}
