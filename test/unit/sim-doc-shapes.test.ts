import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../sim/server.js';
import { rentOne, simFetch, startTestSim } from '../helpers/sim.js';

// The simulator's answers against the documented shapes: vast-ai/docs @ c624622,
// api-reference/openapi/yaml/<file> (field names and types; examples cited per case). A drift in the
// simulator shows here as a failing test.
let sim: RunningSimulator;
let id: number;
beforeAll(async () => {
  sim = await startTestSim();
  await simFetch(sim, 'POST', '/api/v0/ssh/', { ssh_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDocShapesxxxxxxxxxxxxxxxxxxxxxxxxxxxxx doc' });
  id = await rentOne(sim);
  sim.world.clock.advance(900);
});
afterAll(async () => {
  await sim.close();
});

type Kind = 'number' | 'string' | 'boolean' | 'object' | 'array' | 'nullable-number' | 'nullable-string' | 'any';
function expectShape(obj: Record<string, unknown>, shape: Record<string, Kind>, where: string): void {
  for (const [field, kind] of Object.entries(shape)) {
    expect(obj, `${where}: ${field}`).toHaveProperty(field);
    const v = obj[field];
    const ok =
      kind === 'any' ||
      (kind === 'array'
        ? Array.isArray(v)
        : kind === 'object'
          ? typeof v === 'object' && v !== null && !Array.isArray(v)
          : kind.startsWith('nullable-')
            ? v === null || typeof v === kind.slice(9)
            : typeof v === kind);
    expect(ok, `${where}: ${field} should be ${kind}, is ${JSON.stringify(v)}`).toBe(true);
  }
}

describe('simulator answers match the documented shapes', () => {
  it('show_instance.yaml (components.schemas.Instance): the fields the client reads', async () => {
    const row = (await simFetch(sim, 'GET', `/api/v0/instances/${id}/?owner=me`)).json.instances;
    expectShape(
      row,
      {
        id: 'number',
        actual_status: 'string',
        intended_status: 'string',
        cur_state: 'string',
        next_state: 'string',
        status_msg: 'string',
        label: 'nullable-string',
        image_uuid: 'string',
        image_runtype: 'string',
        extra_env: 'array',
        ssh_host: 'string',
        ssh_port: 'number',
        ssh_idx: 'string',
        public_ipaddr: 'string',
        ports: 'object',
        machine_id: 'number',
        bundle_id: 'number',
        start_date: 'number',
        end_date: 'number',
        duration: 'number',
        uptime_mins: 'number',
        num_gpus: 'number',
        gpu_name: 'string',
        dph_base: 'number',
        dph_total: 'number',
        storage_cost: 'number',
        storage_total_cost: 'number',
        disk_space: 'number',
        is_bid: 'boolean',
        min_bid: 'number',
        direct_port_count: 'number',
        direct_port_start: 'number',
        direct_port_end: 'number',
        reliability2: 'number',
        geolocation: 'string',
        verification: 'string',
      },
      'instance',
    );
    // show_instance.yaml example arithmetic: dph_total = dph_base + storage_total_cost.
    expect(row.dph_total).toBeCloseTo(row.dph_base + row.storage_total_cost, 9);
  });

  it('show_instance_ssh_keys.yaml: ssh_keys is a JSON string of {id, name, public_key}', async () => {
    const r = (await simFetch(sim, 'GET', `/api/v0/instances/${id}/ssh/`)).json;
    expect(typeof r.ssh_keys).toBe('string');
    for (const k of JSON.parse(r.ssh_keys)) expectShape(k, { id: 'number', name: 'string', public_key: 'string' }, 'instance key');
  });

  it('show_ssh_keys.yaml: rows {id, user_id, key, created_at (date-time string), deleted_at}', async () => {
    const rows = (await simFetch(sim, 'GET', '/api/v0/ssh/')).json;
    expectShape(rows[0], { id: 'number', user_id: 'number', key: 'string', created_at: 'string', deleted_at: 'any' }, 'account key');
    expect(Number.isNaN(Date.parse(rows[0].created_at))).toBe(false);
  });

  it('show_user.yaml: id, key_id, email, balance, ssh_key, sid', async () => {
    expectShape(
      (await simFetch(sim, 'GET', '/api/v0/users/current')).json,
      { id: 'number', key_id: 'number', email: 'string', balance: 'number', ssh_key: 'nullable-string', sid: 'string' },
      'user',
    );
  });

  it('show_charges.yaml: {success, count (this page), total (all pages), next_token, results[{start, end, source, amount, metadata}]}', async () => {
    const now = sim.world.now();
    const q = new URLSearchParams({ select_filters: JSON.stringify({ day: { gte: now - 86400, lte: now + 60 } }), limit: '1' });
    const r = (await simFetch(sim, 'GET', `/api/v0/charges/?${q}`)).json;
    expectShape(r, { success: 'boolean', count: 'number', total: 'number', next_token: 'any', results: 'array' }, 'charges');
    expect(r.count).toBe(r.results.length);
    expectShape(r.results[0], { start: 'number', end: 'number', source: 'string', amount: 'number', metadata: 'object' }, 'charge row');
  });

  it('show_invoices.yaml (v1): results[{start, end, type, source, description, amount < 0 for credits, metadata{invoice_id, service}, items}]', async () => {
    const now = sim.world.now();
    const q = new URLSearchParams({ select_filters: JSON.stringify({ when: { gte: now - 30 * 86400, lte: now } }) });
    const r = (await simFetch(sim, 'GET', `/api/v1/invoices/?${q}`)).json;
    expectShape(r, { success: 'boolean', count: 'number', total: 'number', next_token: 'any', results: 'array' }, 'invoices');
    const row = r.results[0];
    expectShape(
      row,
      {
        start: 'number',
        end: 'number',
        type: 'string',
        source: 'string',
        description: 'string',
        amount: 'number',
        metadata: 'object',
        items: 'array',
      },
      'invoice row',
    );
    expect(row.type).toBe('credit');
    expect(row.amount).toBeLessThan(0);
    expectShape(row.metadata, { invoice_id: 'any', service: 'string' }, 'invoice metadata');
  });

  it('create_instance.yaml: success {success, new_contract}; 404 invalid_args "error 404/3603: no_such_ask …"', async () => {
    const ask = sim.world.market.asks.find((a) => sim.world.askAvailable(a))!;
    expectShape(
      (await simFetch(sim, 'PUT', `/api/v0/asks/${ask.id}/`, { image: 'ubuntu:22.04', disk: 10 })).json,
      { success: 'boolean', new_contract: 'number' },
      'create',
    );
    const none = await simFetch(sim, 'PUT', '/api/v0/asks/7/', { image: 'ubuntu:22.04', disk: 10 });
    expect(none.status).toBe(404);
    expect(none.json).toMatchObject({ success: false, error: 'invalid_args' });
  });

  it('logs.yaml: {success, result_url, msg}; any 401 is {success:false, error:"auth_error", msg:"Invalid user key"}', async () => {
    expectShape(
      (await simFetch(sim, 'PUT', `/api/v0/instances/request_logs/${id}/`, { tail: '5' })).json,
      { success: 'boolean', result_url: 'string', msg: 'string' },
      'logs',
    );
    const bad = await simFetch(sim, 'GET', `/api/v0/instances/${id}/`, undefined, 'wrong-key-0000');
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual({ success: false, error: 'auth_error', msg: 'Invalid user key' });
  });
});
