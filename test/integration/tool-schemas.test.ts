import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { connectInMemory, type Connected } from '../helpers/mcp.js';
import { startTestSim } from '../helpers/sim.js';

// The listed tool surface is an interface: any change to a name, title, description, schema or annotation must be
// reviewed. Regenerate after an intended change with `npm run snapshot:tools` and commit the file.
const SNAPSHOT = new URL('./tool-schemas.snapshot.json', import.meta.url);
const UPDATE = process.env.UPDATE_TOOL_SNAPSHOT === '1';

const BOOLEAN_OK = new Set(['additionalProperties', 'unevaluatedProperties', 'additionalItems', 'unevaluatedItems']);
const CONSTRAINTS =
  /^(type|enum|const|multipleOf|(exclusive)?(maximum|minimum)|(max|min)(Length|Items|Properties|Contains)|pattern|format|required|allOf|anyOf|oneOf|not|items|prefixItems|contains|properties|patternProperties|additionalProperties|propertyNames|dependentRequired|dependentSchemas|\$ref)$/;

/** Portability findings as clients see them (the rules Inspector `--strict` applies): "path: problem". */
function findings(node: unknown, path: string, keyword?: string): string[] {
  if (typeof node === 'boolean') return keyword && BOOLEAN_OK.has(keyword) ? [] : [`${path}: bare boolean schema`];
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [];
  const n = node as Record<string, unknown>;
  const out: string[] = [];
  if (Array.isArray(n.type)) out.push(`${path}: type array ${JSON.stringify(n.type)}`);
  if (typeof n.$ref === 'string' && !n.$ref.startsWith('#')) out.push(`${path}: remote $ref`);
  if (keyword !== 'not' && !Object.keys(n).some((k) => CONSTRAINTS.test(k))) out.push(`${path}: schema constrains nothing`);
  for (const key of ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']) {
    const map = n[key];
    if (map && typeof map === 'object') for (const [name, sub] of Object.entries(map)) out.push(...findings(sub, `${path}.${key}.${name}`, key));
  }
  for (const key of ['anyOf', 'oneOf', 'allOf', 'prefixItems']) {
    const arr = n[key];
    if (Array.isArray(arr)) for (const [i, sub] of arr.entries()) out.push(...findings(sub, `${path}.${key}[${i}]`, key));
  }
  for (const key of ['items', 'contains', 'not', 'propertyNames', 'if', 'then', 'else', ...BOOLEAN_OK]) {
    if (key in n) out.push(...findings(n[key], `${path}.${key}`, key));
  }
  return out;
}

let sim: RunningSimulator;
let mcp: Connected;
let tools: Tool[];

beforeAll(async () => {
  sim = await startTestSim();
  mcp = await connectInMemory(sim);
  tools = (await mcp.client.listTools()).tools;
});
afterAll(async () => {
  await mcp.close();
  await sim.close();
});

describe('listed tool schemas', () => {
  it('carry no nullable type arrays, empty schemas, bare booleans or remote refs (0 Inspector --strict findings)', () => {
    const all = tools.flatMap((t) => [...findings(t.inputSchema, `${t.name}.inputSchema`), ...findings(t.outputSchema, `${t.name}.outputSchema`)]);
    expect(all).toEqual([]);
  });

  it('state the limits that matter in the input descriptions too (Codex drops min/max/length/pattern)', () => {
    const props = (name: string) => tools.find((t) => t.name === name)!.inputSchema.properties as Record<string, { description?: string }>;
    expect(props('ssh').command!.description).toContain('at most 100000 characters');
    expect(props('ssh').timeout_seconds!.description).toContain('1–3600');
    expect(props('create').count!.description).toContain('1–8');
    expect(props('create').disk_gb!.description).toContain('8–100000');
    expect(props('offers').geolocation!.description).toMatch(/at most 50 items, each matching/);
    expect(props('bid').price!.description).toContain('0.001–512');
  });

  it('give every tool a title and an icon, and mark ssh (it runs arbitrary commands) destructive and not idempotent', () => {
    for (const t of tools) {
      expect(t.title, t.name).toBeTruthy();
      expect(t.icons?.[0]?.src, t.name).toMatch(/^data:image\/svg\+xml;base64,/);
    }
    const ssh = tools.find((t) => t.name === 'ssh')!;
    expect(ssh.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false });
  });

  it('still validate structured results the SDK client checks against the listed output schema', async () => {
    const r = await mcp.call('offers', { limit: 2 });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as { offers: unknown[] }).offers.length).toBe(2);
  });

  it('match the committed snapshot (run `npm run snapshot:tools` after an intended change)', () => {
    const current = `${JSON.stringify(tools, null, 2)}\n`;
    if (UPDATE || !existsSync(SNAPSHOT)) writeFileSync(SNAPSHOT, current);
    expect(current).toBe(readFileSync(SNAPSHOT, 'utf8'));
  });
});
