'use strict';
// Small statistics helpers.

function sorted(xs) {
  return xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
}

/** Median of the finite numbers in xs (null when none). */
function median(xs) {
  const s = sorted(xs);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile p (0..100) of xs (null when empty). */
function percentile(xs, p) {
  const s = sorted(xs);
  if (!s.length) return null;
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1];
}

module.exports = { median, percentile };
