/** Small parsers for editor values, shared by every node. */

/** Array or comma list → trimmed, non-empty, de-duplicated (first occurrence kept). */
export function parseList(input: unknown): string[] {
  let parts: unknown[];
  if (Array.isArray(input)) parts = input;
  else if (typeof input === 'string') parts = input.split(',');
  else if (input === undefined || input === null) parts = [];
  else parts = [input];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const p of parts) {
    if (p === undefined || p === null) continue;
    const s = String(p).trim();
    if (s === '' || seen.has(s)) continue;
    seen.add(s);
    out.push(s);
  }
  return out;
}

/** Minutes from the editor (fractions allowed) as ms; `fallback` minutes when not a number ≥ 0. */
export function minutesToMs(value: unknown, fallback: number): number {
  const n = typeof value === 'number' ? value : Number(String(value ?? '').trim() || NaN);
  return Math.round((Number.isFinite(n) && n >= 0 ? n : fallback) * 60_000);
}
