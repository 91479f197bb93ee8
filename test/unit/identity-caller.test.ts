import { describe, expect, it } from 'vitest';
import { bindCaller, tagToken, untagToken } from '../../server/identity/approval-binding.js';
import { callerOf, IdentityError, LOCAL_CALLER, userTag } from '../../server/identity/caller.js';
import { jobAccess } from '../../server/identity/job-access.js';
import { composeLabelBase, LABEL_MAX, LABEL_USER_MAX, labelUser, uniqueLabel } from '../../server/vast/labels.js';

const auth = (extra: Record<string, unknown>) => ({ token: 't', clientId: 'c', scopes: [], extra });

describe('callerOf', () => {
  it('is the local user without AuthInfo (stdio)', () => {
    expect(callerOf(undefined)).toEqual({ user: null, team: null, authenticated: false });
  });

  it('takes the user and team the auth layer gives, NFC-normalised', () => {
    expect(callerOf(auth({ user: 'alice@example.com', team: 'ml' }))).toEqual({ user: 'alice@example.com', team: 'ml', authenticated: true });
    expect(callerOf(auth({ user: 'jose\u0301' })).user).toBe('jos\u00e9');
    expect(callerOf(auth({ user: 'auth0|64f1c2' })).team).toBeNull();
  });

  it.each([
    ['no user', {}],
    ['a number', { user: 42 }],
    ['an empty name', { user: '' }],
    ['a space', { user: 'alice bob' }],
    ['a bidi override', { user: 'alice\u202egnp.exe' }],
    ['a zero-width joiner', { user: 'ali\u200dce' }],
    ['a newline', { user: 'alice\nINFO: approved' }],
    ['a terminal escape', { user: 'alice\u001b[2J' }],
    ['257 characters', { user: 'a'.repeat(257) }],
    ['a bad team', { user: 'alice', team: 'ml team' }],
  ])('refuses (fails closed on) %s', (_why, extra) => {
    expect(() => callerOf(auth(extra))).toThrow(IdentityError);
  });
});

describe('labels with an authenticated user', () => {
  it('keeps a plain short user as is', () => {
    expect(labelUser('alice', userTag)).toBe('alice');
  });

  it('makes other names label-safe and tags them with the full name, so two users never share a prefix', () => {
    const a = labelUser('alice@example.com', userTag);
    expect(a).toMatch(/^alice-example\.com-[0-9a-f]{6}$/);
    expect(labelUser('alice+example.com', userTag)).not.toBe(a);
  });

  it('survives a long username: cut to the limit, tagged, distinct, and the project is never cut off', () => {
    const long1 = `${'x'.repeat(60)}-one`;
    const long2 = `${'x'.repeat(60)}-two`;
    const u1 = labelUser(long1, userTag);
    const u2 = labelUser(long2, userTag);
    expect(u1.length).toBeLessThanOrEqual(LABEL_USER_MAX);
    expect(u1).not.toBe(u2);
    const label = uniqueLabel(composeLabelBase({ owner: u1, label: 'y'.repeat(200), project: 'thesis-2026' }));
    expect(label.length).toBeLessThanOrEqual(LABEL_MAX);
    expect(label).toMatch(/^x+-[0-9a-f]{6}-y+-thesis-2026-[0-9a-f]{6}$/);
  });

  it('leaves the stdio label as before', () => {
    expect(composeLabelBase({ owner: 'ada', project: 'other' })).toBe('ada-other');
    expect(composeLabelBase({ owner: 'my-run' })).toBe('my-run');
  });
});

describe('approvals are per user', () => {
  const alice = { user: 'alice', team: null, authenticated: true };
  const bob = { user: 'bob', team: null, authenticated: true };

  it('binds the user into what an approval covers; the local user binds as before', () => {
    expect(bindCaller({ a: 1 }, LOCAL_CALLER)).toEqual({ a: 1 });
    expect(bindCaller({ a: 1 }, alice)).not.toEqual(bindCaller({ a: 1 }, bob));
  });

  it('tags a token with its user, and tells another user apart', () => {
    const t = tagToken('create-abc', alice);
    expect(untagToken(t, alice)).toEqual({ token: 'create-abc', sameUser: true });
    expect(untagToken(t, bob)).toEqual({ token: 'create-abc', sameUser: false });
    expect(untagToken(t, LOCAL_CALLER).sameUser).toBe(false);
    expect(untagToken('create-abc', LOCAL_CALLER)).toEqual({ token: 'create-abc', sameUser: true });
    expect(untagToken('create-abc', alice).sameUser).toBe(false);
  });
});

describe('job access', () => {
  const owner = { user: 'alice', team: 'ml', authenticated: true, account: null };
  it('lets the owner control, the team read, others nothing; the local user controls all', () => {
    expect(jobAccess({ user: 'alice', team: 'ml', authenticated: true }, 'ml', owner)).toBe('control');
    expect(jobAccess({ user: 'bob', team: 'ml', authenticated: true }, 'ml', owner)).toBe('read');
    expect(jobAccess({ user: 'eve', team: 'ops', authenticated: true }, 'ops', owner)).toBe('none');
    expect(jobAccess(LOCAL_CALLER, null, owner)).toBe('control');
    expect(jobAccess({ user: 'bob', team: 'ml', authenticated: true }, 'ml', null)).toBe('none');
  });
});
