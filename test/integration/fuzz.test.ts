import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { createRng } from '../../sim/rng.js';
import { connectInMemory, textOf, type Connected } from '../helpers/mcp.js';
import { startTestSim, TEST_KEY } from '../helpers/sim.js';

let sim: RunningSimulator;
let mcp: Connected;
let tools: { name: string; inputSchema: { properties?: Record<string, any>; required?: string[] } }[];

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim);
  tools = (await mcp.client.listTools()).tools as never;
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

const WEIRD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '../../../../etc/passwd',
  '$(rm -rf /)',
  '`reboot`',
  '; cat /etc/shadow',
  '\u202Eevil',
  '😀'.repeat(50),
  'a'.repeat(300_000),
  '\n\n',
  '%s%n%x',
  '{"a":1}',
  'null',
];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];
const PROTO_QUERIES = PROTO_KEYS.flatMap((k) => [`${k}=1`, `num_gpus>=1 ${k} in [a,b]`]);
const WEIRD_STRINGS_ALL = () => [...WEIRD_STRINGS, ...PROTO_QUERIES];
const WEIRD_NUMBERS = [-1, 0, -0.5, 1e308, -1e308, 2 ** 53 + 1, 3.14159, Number.MAX_SAFE_INTEGER];

/** Values of the wrong type for a JSON-schema property. */
function wrongTypes(prop: any): unknown[] {
  const t = prop?.type;
  const out: unknown[] = [null, [[]]];
  if (t !== 'object') out.push({});
  if (t !== 'string') out.push('abc', '12');
  if (t !== 'number' && t !== 'integer') out.push(42);
  if (t !== 'boolean') out.push(true);
  if (t !== 'array') out.push(['x']);
  return out;
}

/** A plausible base input so a single mutation is what makes it bad. */
function baseFor(tool: (typeof tools)[number]): Record<string, unknown> {
  const base: Record<string, unknown> = {};
  for (const r of tool.inputSchema.required ?? []) {
    const p = tool.inputSchema.properties?.[r];
    base[r] = p?.enum ? p.enum[0] : p?.type === 'number' || p?.type === 'integer' ? 999999 : p?.type === 'boolean' ? false : 'x';
  }
  return base;
}

describe('fuzzing every tool', () => {
  it('answers thousands of bad inputs with clear errors, never a crash, never the key', async () => {
    const rng = createRng('fuzz');
    let calls = 0;
    for (const tool of tools) {
      const props = Object.entries(tool.inputSchema.properties ?? {});
      const cases: { args: Record<string, unknown>; field: string | null }[] = [];
      for (const [name, prop] of props) {
        for (const v of wrongTypes(prop)) cases.push({ args: { ...baseFor(tool), [name]: v }, field: name });
        if (prop.type === 'string' && prop.maxLength) cases.push({ args: { ...baseFor(tool), [name]: 'z'.repeat(prop.maxLength + 1) }, field: name });
        if ((prop.type === 'number' || prop.type === 'integer') && prop.minimum !== undefined)
          cases.push({ args: { ...baseFor(tool), [name]: prop.minimum - 1 }, field: name });
        if (prop.enum) cases.push({ args: { ...baseFor(tool), [name]: 'not-a-choice' }, field: name });
      }
      for (const r of tool.inputSchema.required ?? []) {
        const args = baseFor(tool);
        delete args[r];
        cases.push({ args, field: r });
      }
      cases.push({ args: { ...baseFor(tool), surprise_key: 1 }, field: 'surprise_key' });
      // Prototype keys as argument names (JSON.parse makes "__proto__" an own key, as a wire message would).
      // The SDK's request parsing already drops an own "__proto__" (harmless: checked below that nothing is polluted).
      for (const key of PROTO_KEYS)
        cases.push({ args: { ...baseFor(tool), ...JSON.parse(`{"${key}":{"eq":1}}`) }, field: key === '__proto__' ? null : key });
      // Random mixes of odd but well-typed values: may be valid; must not crash.
      for (let i = 0; i < 120; i++) {
        const args = baseFor(tool);
        for (const [name, prop] of props) {
          if (!rng.chance(0.4)) continue;
          if (prop.type === 'string') args[name] = rng.pick(WEIRD_STRINGS_ALL());
          else if (prop.type === 'number' || prop.type === 'integer') args[name] = rng.pick(WEIRD_NUMBERS);
          else if (prop.type === 'boolean') args[name] = rng.chance(0.5);
          else if (prop.type === 'array') args[name] = [rng.pick(WEIRD_STRINGS)];
        }
        cases.push({ args, field: null });
      }
      for (const c of cases) {
        const r = await mcp.call(tool.name, c.args);
        calls++;
        const text = textOf(r);
        expect(text, `${tool.name} ${JSON.stringify(c.args).slice(0, 200)}`).not.toMatch(/Internal error \(id/);
        expect(text).not.toContain(TEST_KEY);
        if (c.field !== null) {
          expect(r.isError, `${tool.name} accepted ${JSON.stringify(c.args).slice(0, 200)}`).toBe(true);
          expect(text, `${tool.name}: ${text.slice(0, 300)}`).toContain(c.field);
        }
      }
    }
    expect(calls).toBeGreaterThan(2000);
    expect(Object.keys(Object.prototype)).toEqual([]);
    // Nothing was rented or destroyed by all that.
    expect(sim.world.instances.size).toBe(0);
  }, 300_000);

  it.each(PROTO_QUERIES)('offers refuses the query %s clearly and keeps answering', async (query) => {
    const r = await mcp.call('offers', { query });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/is not a field of an offer/);
    expect(Object.keys(Object.prototype)).toEqual([]);
    const ok = await mcp.call('offers', { query: 'num_gpus>=1', limit: 1 });
    expect(ok.isError).toBeFalsy();
  });

  it.each(['../outside', '/etc/cron.d/x', '../../root/.ssh/authorized_keys', 'a/../../b'])(
    'copy refuses local path %s outside the copy root',
    async (local_path) => {
      const r = await mcp.call('copy', { instance_id: 1, direction: 'instance_to_local', remote_path: '/workspace/x', local_path });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/outside the copy root/);
    },
  );
});
