import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createRng } from '../../sim/rng.js';
import { startSimulator, type RunningSimulator } from '../../sim/server.js';

/**
 * Money faults for the campaign (issues 11 and 17): budget races between two server processes,
 * cancelled calls, an unwritable state directory and creates the platform commits late. Each round
 * runs on its own simulator with two servers sharing one state directory and one budget, and checks:
 *  - spend_over_cap: what was rented, at its running price over the profile's hours, stays within the
 *    budget, and the burn of everything meant to run stays within the burn cap;
 *  - unreported_rentals: every instance the platform rented was named to the agent (in a create
 *    result, or as a duplicate on the next status), except during a call the client itself cancelled.
 */
export interface MoneyCounts {
  spend_over_cap: number;
  unreported_rentals: number;
}

const TOTAL_USD = 1.0;
const MAX_BURN = 0.7;
const PROFILE = { max_dph: 0.3, max_hours: 2 };
const PROFILES_YAML = `profiles:\n  cheap:\n    gpu_name: RTX 4090\n    num_gpus: 1\n    max_dph: ${PROFILE.max_dph}\n    min_reliability: 0.5\n    max_hours: ${PROFILE.max_hours}\nbudgets:\n  total_usd: ${TOTAL_USD}\n  max_burn_per_hour: ${MAX_BURN}\n`;
const KEY = 'CAMPAIGN-MONEY-KEY-1b2c3d';

interface Server {
  client: Client;
  texts: string[];
  call(tool: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<CallToolResult | null>;
}

async function spawnServer(main: string, sim: RunningSimulator, stateDir: string, profiles: string, home: string): Promise<Server> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [main],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      VAST_URL: sim.url,
      VAST_API_KEY: KEY,
      VAST_MCP_STATE_DIR: stateDir,
      VAST_MCP_CONFIG: profiles,
      VAST_MCP_POLL_MS: '100',
      VAST_MCP_PACING: 'off',
      VAST_MCP_CREATE_COMMIT_WINDOW_MS: '300',
      VAST_MCP_LOG_LEVEL: 'warn',
    },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'campaign-money', version: '1' });
  await client.connect(transport);
  const texts: string[] = [];
  return {
    client,
    texts,
    async call(tool, args, signal) {
      try {
        const r = (await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120_000, signal })) as CallToolResult;
        texts.push(r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n') + JSON.stringify(r.structuredContent ?? {}));
        return r;
      } catch {
        return null;
      }
    },
  };
}

const token = (r: CallToolResult | null) => (r?.structuredContent as { confirmation_token?: string } | undefined)?.confirmation_token;

export async function runMoneyFaults(o: {
  seed: string;
  rounds: number;
  serverMain: string;
  faults?: string;
  counts: MoneyCounts;
  notes: string[];
  fired: Record<string, number>;
}): Promise<void> {
  const rng = createRng(`money:${o.seed}`);
  const kinds = ['budget_race', 'late_commit', 'unwritable_state', 'cancelled_call'] as const;
  for (let round = 0; round < o.rounds; round++) {
    const kind = kinds[round % kinds.length]!;
    o.fired[`money_${kind}`] = (o.fired[`money_${kind}`] ?? 0) + 1;
    const sim = await startSimulator({ apiKey: KEY, seed: `${o.seed}-${round}`, offers: 300, faults: o.faults, startingCredit: 1000 });
    const base = mkdtempSync(join(tmpdir(), 'vast-mcp-money-'));
    const stateDir = join(base, 'state');
    const profiles = join(base, 'profiles.yaml');
    writeFileSync(profiles, PROFILES_YAML);
    const a = await spawnServer(o.serverMain, sim, stateDir, profiles, base);
    const b = await spawnServer(o.serverMain, sim, stateDir, profiles, base);
    const excused = new Set<number>();
    const args = { profile: 'cheap', disk_gb: 16 };
    try {
      if (kind === 'budget_race') {
        // Four approvals at once across two processes: at most what the budget holds may be rented.
        const props = await Promise.all([a, b, a, b].map((s) => s.call('create', args)));
        await Promise.all(
          [a, b, a, b].map((s, i) => (token(props[i]!) ? s.call('create', { ...args, confirmation_token: token(props[i]!) }) : null)),
        );
      } else if (kind === 'late_commit') {
        sim.faults.add({ method: 'PUT', path: '^/api/v0/asks/\\d+$', kind: 'late_commit', delayMs: 600 + Math.floor(rng.next() * 400), count: 1 });
        const t = token(await a.call('create', args));
        if (t) await a.call('create', { ...args, confirmation_token: t });
        await new Promise((r) => setTimeout(r, 1200));
        await a.call('status', {});
      } else if (kind === 'unwritable_state') {
        const t = token(await a.call('create', args));
        const before = sim.world.instances.size;
        renameSync(stateDir, `${stateDir}.away`);
        writeFileSync(stateDir, 'not a directory');
        if (t) await a.call('create', { ...args, confirmation_token: t });
        if (sim.world.instances.size !== before) {
          o.counts.unreported_rentals += sim.world.instances.size - before;
          o.notes.push(`money round ${round}: a create ran with an unwritable state directory`);
        }
        rmSync(stateDir, { force: true });
        renameSync(`${stateDir}.away`, stateDir);
      } else {
        const t = token(await a.call('create', args));
        const before = new Set(sim.world.instances.keys());
        const ac = new AbortController();
        setTimeout(() => ac.abort(), Math.floor(rng.next() * 60));
        if (t) await a.call('create', { ...args, confirmation_token: t }, ac.signal);
        await new Promise((r) => setTimeout(r, 500));
        for (const id of sim.world.instances.keys()) if (!before.has(id)) excused.add(id);
      }
    } finally {
      await a.client.close().catch(() => undefined);
      await b.client.close().catch(() => undefined);
    }
    // Ground truth from the simulator.
    const all = [...sim.world.instances.values()];
    const committed = all.reduce((s, i) => s + (i.gpuRate + i.diskRate) * PROFILE.max_hours, 0);
    const burning = all.filter((i) => i.destroyedAt === null && i.intended !== 'stopped').reduce((s, i) => s + i.gpuRate + i.diskRate, 0);
    if (committed > TOTAL_USD + 0.01 || burning > MAX_BURN + 1e-6) {
      o.counts.spend_over_cap++;
      o.notes.push(
        `money round ${round} (${kind}): ${all.length} rented, committed $${committed.toFixed(2)} of $${TOTAL_USD}, burn $${burning.toFixed(4)}/h of $${MAX_BURN}/h`,
      );
    }
    const said = [...a.texts, ...b.texts].join('\n');
    if (process.env.VAST_MONEY_DEBUG) process.stderr.write(`${kind}: ${said.slice(0, 6000)}\n`);
    o.fired.money_rentals = (o.fired.money_rentals ?? 0) + all.length;
    if (said.includes('DUPLICATE RENTAL')) o.fired.money_duplicates_reported = (o.fired.money_duplicates_reported ?? 0) + 1;
    if (/reserved by approved rentals|would cost .* more than/.test(said)) o.fired.money_budget_refusals = (o.fired.money_budget_refusals ?? 0) + 1;
    for (const inst of all) {
      if (excused.has(inst.id) || said.includes(`#${inst.id}`)) continue;
      o.counts.unreported_rentals++;
      o.notes.push(`money round ${round} (${kind}): instance ${inst.id} "${inst.label}" was rented but never named to the agent`);
    }
    await sim.close();
  }
}
