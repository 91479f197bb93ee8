/**
 * A record's own entry, never an inherited one: budgets are keyed by names the caller chooses
 * (`project: "constructor"` would otherwise find Object.prototype's and slip past every limit).
 */
export function ownEntry<T>(record: Record<string, T>, key: string | null | undefined): T | undefined {
  return key !== null && key !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}
