import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { parseProfiles } from '../../server/profiles/profile-config.js';
import { ConfigError } from '../../server/errors.js';
import { textOf } from '../helpers/mcp.js';
import { simPerTest } from '../helpers/per-test.js';
import { rentOne } from '../helpers/sim.js';

const env = simPerTest();
let sim: RunningSimulator;
const connect = (yaml?: string) => env.connect(yaml ? { deps: { profiles: parseProfiles(yaml, 'test.yaml') } } : {});
beforeEach(() => {
  sim = env.sim();
});

const PROFILES = `profiles:
  cheap-4090:
    gpu_name: RTX 4090
    num_gpus: 1
    max_dph: 0.30
    min_reliability: 0.9
    max_hours: 2
budgets:
  total_usd: 100
  max_burn_per_hour: 5
  # With projects listed every rental belongs to one (17.7): unnamed ones go to the default.
  default_project: other
  projects:
    thesis:
      total_usd: 0.20
    other: {}
`;

describe('resources and prompts', () => {
  it('lists and reads the references, with profiles generated from the loaded config', async () => {
    const mcp = await connect(PROFILES);
    const { resources } = await mcp.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual([
      'vast-mcp://references/api',
      'vast-mcp://references/gotchas',
      'vast-mcp://references/jobs',
      'vast-mcp://references/profiles',
    ]);
    const gotchas = await mcp.client.readResource({ uri: 'vast-mcp://references/gotchas' });
    expect((gotchas.contents[0] as any).text).toMatch(/Stopped instances still cost money/);
    expect((gotchas.contents[0] as any).text).toMatch(/onstart/);
    const api = await mcp.client.readResource({ uri: 'vast-mcp://references/api' });
    expect((api.contents[0] as any).text).toMatch(/Safe-calling checklist/);
    const profiles = (await mcp.client.readResource({ uri: 'vast-mcp://references/profiles' })).contents[0] as any;
    expect(profiles.mimeType).toBe('text/markdown');
    expect(profiles.text).toMatch(/\| `cheap-4090` \| 1× RTX 4090 \| \$0\.30 \| 0\.9 \| 2 \|/);
    expect(profiles.text).toMatch(/`thesis`: \$0\.2 total/);
    expect(mcp.client.getInstructions()).toMatch(/vast-mcp:\/\/references\/gotchas/);
  });

  it('lists the four workflows and fills in their arguments', async () => {
    const mcp = await connect();
    const { prompts } = await mcp.client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['rent-gpu', 'teardown', 'recover-preempted', 'cost-review', 'run-job']);
    const teardown = await mcp.client.getPrompt({ name: 'teardown', arguments: { instance_id: '4242', destination: 's3://bucket/x' } });
    const text = (teardown.messages[0]!.content as any).text as string;
    expect(text).toMatch(/instance 4242/);
    expect(text).toMatch(/s3:\/\/bucket\/x/);
    expect(text).toMatch(/verified/);
    const rent = await mcp.client.getPrompt({ name: 'rent-gpu', arguments: { profile: 'dev-test' } });
    expect((rent.messages[0]!.content as any).text).toMatch(/profile "dev-test"/);
  });
});

describe('profiles as filters', () => {
  it('turns a profile into offer filters and its max hours into the projection', async () => {
    const mcp = await connect(PROFILES);
    const r = await mcp.call('offers', { profile: 'cheap-4090', limit: 20 });
    const d = r.structuredContent as any;
    expect(d.query_sent).toMatchObject({ gpu_name: { eq: 'RTX 4090' }, num_gpus: { eq: 1 }, dph_total: { lte: 0.3 }, reliability: { gte: 0.9 } });
    expect(d.hours).toBe(2);
    expect(d.offers.length).toBeGreaterThan(0);
    for (const o of d.offers) {
      expect(o.dph_total).toBeLessThanOrEqual(0.3);
      expect(o.gpu_name).toBe('RTX 4090');
    }
  });

  it('refuses an unknown profile and names the ones there are', async () => {
    const mcp = await connect(PROFILES);
    const r = await mcp.call('offers', { profile: 'gigantic' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Unknown profile "gigantic". Available: cheap-4090/);
  });
});

describe('enforcement', () => {
  it('refuses an offer above the profile cap, with the numbers', async () => {
    const mcp = await connect(PROFILES);
    const pricey = sim.world.market.asks.find(
      (a) => a.machine.gpu.name === 'RTX 4090' && a.numGpus === 1 && a.machine.pricePerGpu > 0.4 && a.machine.verified && sim.world.askAvailable(a),
    )!;
    const r = await mcp.call('create', { profile: 'cheap-4090', offer_id: pricey.id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Refused: the offer costs \$0\.\d{4}\/h, above profile "cheap-4090"'s cap of \$0\.30\/h/);
    expect(sim.world.liveInstances()).toHaveLength(0);
  });

  it('refuses when the profile max duration would break the remaining budget', async () => {
    const mcp = await connect(PROFILES.replace('total_usd: 100', 'total_usd: 0.40'));
    const r = await mcp.call('create', { profile: 'cheap-4090' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Refused: 2 h at \$0\.\d{4}\/h would cost \$0\.\d\d, more than the \$0\.40 left of the overall budget/);
  });

  it('refuses when the burn rate would pass the cap', async () => {
    await rentOne(sim);
    sim.world.clock.advance(600);
    const mcp = await connect(PROFILES.replace('max_burn_per_hour: 5', 'max_burn_per_hour: 0.30'));
    const r = await mcp.call('create', { profile: 'cheap-4090' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(
      /Refused: the overall burn rate would be \$\d\.\d{4}\/h once running \(now \$\d\.\d{4}\/h counting every instance at its running price, \+ \$0\.\d{4}\/h\), above the cap of \$0\.30\/h/,
    );
  });

  it('applies a project budget and puts the project in the label', async () => {
    const mcp = await connect(PROFILES);
    const refused = await mcp.call('create', { profile: 'cheap-4090', project: 'thesis' });
    expect(textOf(refused)).toMatch(/project "thesis" budget/);
    const ok = (await mcp.call('create', { gpu_name: 'RTX 4090', hours: 1, project: 'other' })).structuredContent as any;
    await mcp.call('create', { gpu_name: 'RTX 4090', hours: 1, project: 'other', confirmation_token: ok.confirmation_token });
    expect(sim.world.liveInstances()[0]!.label).toMatch(/^ada-other-[0-9a-f]{6}$/);
  });

  it('reports instances past their profile max duration as overdue, and billing shows the budget', async () => {
    const mcp = await connect(PROFILES);
    const p = (await mcp.call('create', { profile: 'cheap-4090' })).structuredContent as any;
    await mcp.call('create', { profile: 'cheap-4090', confirmation_token: p.confirmation_token });
    sim.world.clock.advance(3 * 3600);
    const v = ((await mcp.call('status')).structuredContent as any).instances[0];
    expect(v).toMatchObject({ profile: 'cheap-4090', max_hours: 2, overdue: true });
    expect(v.diagnosis.summary).toMatch(/OVERDUE/);
    const b = (await mcp.call('billing')).structuredContent as any;
    expect(b.overdue.map((o: any) => o.id)).toEqual([v.id]);
    expect(b.budget.total_usd).toBe(100);
    expect(b.budget.spent_usd).toBeGreaterThan(0);
    expect(b.budget.remaining_usd).toBeCloseTo(100 - b.budget.spent_usd, 2);
    expect(b.budget.max_burn_per_hour).toBe(5);
  });
});

describe('profiles file validation', () => {
  it.each([
    ['profiles:\n  a:\n    gpu_name: X\n   max_dph: 1\n', /test\.yaml:4:\d+: invalid YAML/],
    ['profiles:\n  dev:\n    gpu_name: RTX 4090\n    max_dph: cheap\n    max_hours: 2\n', /test\.yaml:4: profiles\.dev\.max_dph: /],
    ['profiles:\n  dev:\n    gpu_name: RTX 4090\n    max_dph: 1\n    max_hours: 2\n    colour: red\n', /test\.yaml:\d: profiles\.dev: .*colour/],
    ['profiles:\n  Dev_Big:\n    gpu_name: RTX 4090\n    max_dph: 1\n    max_hours: 2\n', /profiles\.Dev_Big.*lowercase/],
    ['budgets:\n  total_usd: -5\n', /test\.yaml:2: budgets\.total_usd/],
  ])('%j is refused with the line and field', (yaml, message) => {
    expect(() => parseProfiles(yaml, 'test.yaml')).toThrow(ConfigError);
    expect(() => parseProfiles(yaml, 'test.yaml')).toThrow(message);
  });

  it('accepts the shipped defaults', () => {
    const { readFileSync } = require('node:fs') as typeof import('node:fs');
    const file = parseProfiles(readFileSync('config/default-profiles.yaml', 'utf8'), 'default');
    expect(Object.keys(file.profiles)).toEqual(['dev-test', 'training-standard', 'training-distributed', 'inference-batch']);
    expect(file.profiles['training-distributed']).toMatchObject({
      gpu_name: 'H100 SXM',
      num_gpus: 4,
      max_dph: 4,
      min_reliability: 0.99,
      max_hours: 48,
    });
  });
});
