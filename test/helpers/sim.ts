import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../sim/server.js';

/** A recognizable key: any test can scan output for it. */
export const TEST_KEY = 'TESTKEY-c0ffee-5ecret-0123456789abcdef';

/**
 * The simulator is realistic by default. Tests opt out of two behaviours that only cost wall-clock
 * time at a 1× clock: the documented rate limits (tests poll every 20 ms with pacing off; the
 * pacing suite in read-tools.test.ts turns both on) and the stop/start convergence delay.
 * Everything else (key shapes, pull failures, outbids, expiry, S3 log URLs) stays realistic.
 */
export async function startTestSim(opts: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const { fidelity, ...rest } = opts;
  return startSimulator({
    apiKey: TEST_KEY,
    seed: 'test',
    offers: 800,
    logReadyDelayMs: 50,
    rateLimits: false,
    ...rest,
    fidelity: typeof fidelity === 'string' ? fidelity : { stateChangeSeconds: 0, ...(fidelity ?? {}) },
  });
}

export async function simFetch(
  sim: RunningSimulator,
  method: string,
  path: string,
  body?: unknown,
  key: string | null = TEST_KEY,
): Promise<{ status: number; json: any; contentType: string | null }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${sim.url}${path}`, { method, headers, body: method === 'GET' ? undefined : JSON.stringify(body ?? {}) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* text body */
  }
  return { status: res.status, json, contentType: res.headers.get('content-type') };
}

/** Rents the cheapest available RTX 4090 directly through the simulator's REST API. */
export async function rentOne(sim: RunningSimulator, extra: Record<string, unknown> = {}): Promise<number> {
  const search = await simFetch(sim, 'POST', '/api/v0/bundles/', {
    gpu_name: { eq: 'RTX 4090' },
    rentable: { eq: true },
    rented: { eq: false },
    order: [['dph_total', 'asc']],
    limit: 1,
    allocated_storage: 20,
  });
  const offer = search.json.offers[0];
  const created = await simFetch(sim, 'PUT', `/api/v0/asks/${offer.id}/`, {
    client_id: 'me',
    image: 'pytorch/pytorch',
    disk: 20,
    runtype: 'ssh_direc ssh_proxy',
    label: 'test',
    ...extra,
  });
  if (created.status !== 200) throw new Error(`rent failed: ${JSON.stringify(created.json)}`);
  return created.json.new_contract as number;
}
