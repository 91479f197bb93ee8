import { randomBytes } from 'node:crypto';
import type { User } from './schemas.js';

export const LABEL_MAX = 256;
export const FALLBACK_LABEL = 'vast-user';

/**
 * The account's name for labels: the username (the API has no "nickname" field), else the local
 * part of the email, else `vast-user`.
 */
export function labelBase(user: Pick<User, 'username' | 'email'> | null): string {
  const clean = (s: string | null | undefined) =>
    (s ?? '')
      .trim()
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const username = clean(user?.username);
  if (username) return username;
  const local = clean(user?.email?.split('@')[0]);
  if (local) return local;
  return FALLBACK_LABEL;
}

/** `base-xxxxxx`: unique, so a create whose answer was lost can be found again by its label. */
export function uniqueLabel(base: string, suffix = randomBytes(4).toString('hex').slice(0, 6)): string {
  const tail = `-${suffix}`;
  return `${base.slice(0, LABEL_MAX - tail.length)}${tail}`;
}

/** Longest user part of a label; longer names are cut and tagged so two users never share a prefix. */
export const LABEL_USER_MAX = 40;
const SUFFIX_ROOM = 10; // "-xxxxxx" and a retry's "-rN"

function labelSafe(s: string): string {
  return s
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The user as it appears in a label: label-safe characters only, at most LABEL_USER_MAX long. A name
 * that had to be changed (other characters, too long) gets a tag of the full name, so it stays
 * distinct and findable; attribution never depends on it (the audit log's actor does that).
 */
export function labelUser(user: string, tag: (u: string) => string): string {
  const safe = labelSafe(user);
  if (safe === user && safe.length <= LABEL_USER_MAX) return safe;
  const t = tag(user);
  const room = LABEL_USER_MAX - t.length - 1;
  const head = safe.slice(0, room).replace(/-+$/, '');
  return head ? `${head}-${t}` : `u-${t}`;
}

/**
 * The label base (before the unique suffix): `<owner>[-<label>]-<project>`. On stdio the owner is the
 * agent's label or the account name (as before); with an authenticated user it is that user, followed
 * by the agent's label if any. The project is never cut off: the free part is cut instead.
 */
export function composeLabelBase(o: { owner: string; label?: string; project?: string }): string {
  const tail = o.project ? `-${o.project}` : '';
  const room = LABEL_MAX - SUFFIX_ROOM - tail.length;
  const head = o.label ? `${o.owner}-${o.label}` : o.owner;
  return `${head.slice(0, room)}${tail}`;
}
