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
