import type { AuditEntry } from '../state/audit-log.js';
import type { ProfilesFile } from './profile-config.js';

/** The profile each instance was rented under, from the audit log's creates (entriesShared: every replica's). */
export function profilesByInstance(entries: AuditEntry[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of entries) {
    const profile = (e.detail as { profile?: unknown } | undefined)?.profile;
    if (e.action === 'rent' && e.result === 'ok' && e.instance_id && typeof profile === 'string') out.set(e.instance_id, profile);
  }
  return out;
}

/** Past its profile's max duration? (Reported only: destroy stays gated on the user.) */
export function overdueInfo(
  file: ProfilesFile,
  profile: string | undefined,
  ageHours: number | null,
): { profile: string | null; max_hours: number | null; overdue: boolean } {
  const p = profile ? file.profiles[profile] : undefined;
  if (!p || ageHours === null) return { profile: profile ?? null, max_hours: p?.max_hours ?? null, overdue: false };
  return { profile: profile!, max_hours: p.max_hours, overdue: ageHours > p.max_hours };
}
