import { describe, expect, it } from 'vitest';
import { LOCAL_CALLER } from '../../server/identity/caller.js';
import { instanceAccess } from '../../server/identity/guarded-vast.js';

const alice = { user: 'alice', team: 'ml', authenticated: true };
const owner = (user: string | null, team: string | null, account: string | null = null) => ({ user, team, account, project: null });

describe('the instance owner rule', () => {
  it('gives the local user control of everything, even of instances with no rental record', () => {
    expect(instanceAccess(LOCAL_CALLER, null, undefined)).toBe('control');
    expect(instanceAccess(LOCAL_CALLER, null, owner('bob', 'ops'))).toBe('control');
  });

  it('gives an authenticated user control of their own rentals, read of their team’s, nothing else', () => {
    expect(instanceAccess(alice, 'ml', owner('alice', 'ml'))).toBe('control');
    expect(instanceAccess(alice, 'ml', owner('bob', 'ml'))).toBe('read');
    expect(instanceAccess(alice, 'ml', owner('eve', 'ops'))).toBe('none');
    // No record, or a record without a user (rented by the local user): fail closed.
    expect(instanceAccess(alice, 'ml', undefined)).toBe('none');
    expect(instanceAccess(alice, 'ml', owner(null, null))).toBe('none');
    // Without a team, a teammate's rental is not readable.
    expect(instanceAccess({ ...alice, team: null }, null, owner('bob', null))).toBe('none');
  });

  it('never matches a rental record of another account, even for the same user and id', () => {
    expect(instanceAccess(alice, 'ml', owner('alice', 'ml', 'team-b'), null)).toBe('none');
    expect(instanceAccess(alice, 'ml', owner('alice', 'ml', 'team-b'), 'team-b')).toBe('control');
  });
});
