import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../server/errors.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';

describe('budgets file: users, teams, projects and accounts', () => {
  it('accepts per-user, per-team and per-project limits, default projects and accounts by env or file', () => {
    const f = parseProfiles(
      `budgets:
  default_project: general
  each_user: { total_usd: 20 }
  users:
    "alice@example.com": { total_usd: 100, team: ml, default_project: thesis }
  teams:
    ml: { max_burn_per_hour: 8, default_project: thesis }
  projects:
    thesis: { total_usd: 50, team: ml }
    general: {}
accounts:
  ml-account: { api_key_env: VAST_API_KEY_ML, teams: [ml] }
  research: { api_key_file: /run/secrets/vast, teams: [research] }
`,
      't.yaml',
    );
    expect(f.budgets.users['alice@example.com']).toMatchObject({ team: 'ml', default_project: 'thesis' });
    expect(f.accounts['ml-account']!.teams).toEqual(['ml']);
  });

  it.each([
    ['a key written in the file', 'accounts:\n  a: { api_key: abc, teams: [ml] }\n', /accounts/],
    ['an account without a key source', 'accounts:\n  a: { teams: [ml] }\n', /exactly one of api_key_env or api_key_file/],
    [
      'a team mapped to two accounts',
      'accounts:\n  a: { api_key_env: A, teams: [ml] }\n  b: { api_key_env: B, teams: [ml] }\n',
      /already mapped to account "a"/,
    ],
    [
      'a default project that is not listed',
      'budgets:\n  default_project: nope\n  projects:\n    thesis: {}\n',
      /project "nope" is not listed under budgets.projects/,
    ],
    ['a user name with a space', 'budgets:\n  users:\n    "alice bob": { total_usd: 1 }\n', /budgets/],
  ])('refuses %s, naming where', (_why, text, message) => {
    expect(() => parseProfiles(text, 't.yaml')).toThrow(ConfigError);
    expect(() => parseProfiles(text, 't.yaml')).toThrow(message);
  });
});
