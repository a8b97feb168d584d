// Paired comparisons against a baseline: statistics (stats.ts), results-folder tables (compare.ts), rounding (format.ts).
export * from './stats.ts';
export * from './compare.ts';
export * from './format.ts';
