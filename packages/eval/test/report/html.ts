/**
 * Reads back what the report's HTML says, for tests: its tables (cell text and data-* attributes),
 * its figures and the JSON spec embedded beside each chart. A small scanner for the report's own
 * regular markup (no nested tables), not a general HTML parser.
 */

/** One parsed <th>/<td>. */
export interface HtmlCell {
  tag: 'th' | 'td';
  attrs: Record<string, string>;
  text: string;
}

/** Decodes the entities escapeHtml writes. */
export function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] as string);
}

function attrsOf(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([\w-]+)="([^"]*)"/g)) out[m[1]] = decodeEntities(m[2]);
  return out;
}

/** The text of an HTML fragment: tags dropped, <br> as a space, entities decoded. */
export function textOf(fragment: string): string {
  return decodeEntities(fragment.replace(/<br>/g, ' ').replace(/<[^>]+>/g, '')).trim();
}

/** The rows of the table with this id, each a list of cells (header row first). */
export function tableById(html: string, id: string): HtmlCell[][] {
  const start = html.indexOf(`id="${id}"`);
  if (start < 0) throw new Error(`no table with id ${id}`);
  const end = html.indexOf('</table>', start);
  const body = html.slice(start, end);
  return body
    .split(/<tr[\s>]/)
    .slice(1)
    .map((tr) => [...tr.matchAll(/<(th|td)((?:\s[^>]*)?)>([\s\S]*?)<\/\1>/g)].map((m) => ({ tag: m[1] as 'th' | 'td', attrs: attrsOf(m[2]), text: textOf(m[3]) })));
}

/** Table rows as records: row label → (header text → cell); headers are the first row's texts. */
export function tableRecords(html: string, id: string): Map<string, Map<string, HtmlCell>> {
  const [head, ...rows] = tableById(html, id);
  const out = new Map<string, Map<string, HtmlCell>>();
  for (const r of rows) {
    const m = new Map<string, HtmlCell>();
    r.slice(1).forEach((c, i) => m.set(head[i + 1].text, c));
    out.set(r[0].text, m);
  }
  return out;
}

/** Every figure element: its id, inner HTML and the JSON spec embedded with it (if drawn). */
export function figures(html: string): Array<{ id: string; inner: string; spec?: { data: { values: Array<Record<string, unknown>> } } }> {
  return [...html.matchAll(/<figure class="report-figure" id="figure-([^"]+)" data-figure="[^"]+">([\s\S]*?)<\/figure>/g)].map((m) => {
    const json = /<script type="application\/json" class="figure-spec" data-figure="[^"]+">([\s\S]*?)<\/script>/.exec(m[2]);
    return { id: m[1], inner: m[2], spec: json ? JSON.parse(json[1]) : undefined };
  });
}

/** The aria-labels of one mark layer's items in an SVG fragment (`rect` marks are drawn as paths). */
export function markLabels(svg: string, markClass: string, layer: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<g class="mark-${markClass} role-mark ${layer}"[^>]*>([\\s\\S]*?)</g>`, 'g');
  for (const m of svg.matchAll(re)) for (const a of m[1].matchAll(/aria-label="([^"]*)"/g)) out.push(decodeEntities(a[1]));
  return out;
}
