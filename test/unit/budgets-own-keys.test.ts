import { describe, expect, it } from 'vitest';
import { attributeProject } from '../../server/profiles/attribution.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';

const file = parseProfiles(
  `budgets:
  projects:
    thesis: { total_usd: 50, team: ml }
`,
  't.yaml',
);
const alice = { user: 'alice', team: 'ml', authenticated: true };

describe('budget names are looked up as own keys only', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('a project named %s is not listed, so it is refused', (name) => {
    expect(() => attributeProject(file, alice, 'ml', { project: name })).toThrow(/not|listed|unknown/i);
  });

  it('a listed project is still attributed', () => {
    expect(attributeProject(file, alice, 'ml', { project: 'thesis' })).toBe('thesis');
  });
});
