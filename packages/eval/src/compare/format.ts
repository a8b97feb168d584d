/**
 * Numbers rounded to what their error supports: the error keeps two significant digits and the
 * value is cut at the same decimal place (437.9 ± 35.7 → "438 ± 36"; 0.7512 ± 0.0031 →
 * "0.7512 ± 0.0031"), so a printed table shows no digits that are noise.
 */

/** Decimals that keep two significant digits of `err`; 4 significant digits of `x` when there is no usable error. */
export function decimalsFor(x: number, err: number | null | undefined): number {
  const clamp = (d: number): number => Math.max(0, Math.min(12, d));
  if (err !== null && err !== undefined && Number.isFinite(err) && err > 0) return clamp(1 - Math.floor(Math.log10(err)));
  if (!Number.isFinite(x) || x === 0) return 0;
  return clamp(3 - Math.floor(Math.log10(Math.abs(x))));
}

/** `x` rounded to the precision its error supports (see decimalsFor); "—" for null, a minus sign for negatives. */
export function roundToError(x: number | null, err: number | null | undefined): string {
  if (x === null) return '—';
  if (!Number.isFinite(x)) return String(x);
  const s = x.toFixed(decimalsFor(x, err));
  return s.startsWith('-') ? (/^-0(\.0*)?$/.test(s) ? s.slice(1) : `−${s.slice(1)}`) : s;
}

/** `value ± err`, both at the error's precision; just the value when there is no error. */
export function withError(x: number | null, err: number | null | undefined): string {
  if (x === null) return '—';
  return err !== null && err !== undefined && Number.isFinite(err) ? `${roundToError(x, err)} ± ${roundToError(err, err)}` : roundToError(x, null);
}

/** A p-value for people: "<0.001", else two significant digits. */
export function formatP(p: number | null): string {
  if (p === null) return '—';
  if (p < 0.001) return '<0.001';
  return p >= 0.1 ? p.toFixed(2) : p.toPrecision(2);
}

/** Significance stars of a (Holm-adjusted) p-value: *** < 0.001, ** < 0.01, * < 0.05. */
export function stars(p: number | null): string {
  if (p === null) return '';
  return p < 0.001 ? '***' : p < 0.01 ? '**' : p < 0.05 ? '*' : '';
}
