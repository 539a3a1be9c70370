export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** The calendar month (UTC) a spend belongs to, e.g. "2026-11". */
export const monthKey = (ms: number): string => new Date(ms).toISOString().slice(0, 7);
