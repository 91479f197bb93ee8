import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createRng } from '../../sim/rng.js';
import { startSimulator } from '../../sim/server.js';
import { CopyLedger } from '../../server/state/ledger.js';
import { countOccurrences, destroyUnjustified, emptyCounts, type InvariantCounts } from './invariants.js';
import { runSequence, type SequenceContext } from './sequence.js';
import { runMoneyFaults } from './money-faults.js';
import { TrustFaults } from './trust-faults.js';
import { HostileTrees } from './hostile-tree.js';
import { fullInstanceDisk, hostRestart } from './platform-faults.js';

export const DEFAULT_FAULTS = '429:0.03,500:0.01,502:0.02,503:0.02,504:0.01,drop_create:0.15,latency:0.02';

export interface CampaignOptions {
  sequences: number;
  seed: string;
  faults?: string;
  rateLimits?: boolean;
  /** The server's own pacing (default on); off makes it meet every limit as a 429. */
  pacing?: boolean;
  /** Path of the built server entry (dist/server/main.js). */
  serverMain?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface CampaignSummary {
  seed: string;
  sequences: number;
  calls: number;
  seconds: number;
  /** Of those, the seconds spent in the sequences (the rest: the money rounds). */
  seconds_sequences: number;
  faults: Record<string, number>;
  /** Mean and max milliseconds per tool, to see where the time goes. */
  timings: Record<string, { calls: number; mean_ms: number; max_ms: number }>;
  invariants: InvariantCounts;
  ok: boolean;
  notes: string[];
}

const KEY = 'CAMPAIGN-KEY-7f3e9a1c-secret-0042';

export async function runCampaign(o: CampaignOptions): Promise<CampaignSummary> {
  const started = Date.now();
  const sim = await startSimulator({
    apiKey: KEY,
    seed: o.seed,
    offers: 1500,
    timeScale: 3000,
    faults: o.faults ?? DEFAULT_FAULTS,
    rateLimits: o.rateLimits,
    startingCredit: 1_000_000,
  });
  const base = mkdtempSync(join(tmpdir(), 'vast-mcp-campaign-'));
  const stateDir = join(base, 'state');
  const copyRoot = join(base, 'copies');
  const profiles = join(base, 'profiles.yaml');
  writeFileSync(profiles, 'profiles: {}\nbudgets: {}\n');
  const trust = new TrustFaults(stateDir);
  await trust.beforeServer();
  const hostile = new HostileTrees(base, copyRoot, stateDir);
  hostile.setup();
  const main = o.serverMain ?? fileURLToPath(new URL('../../server/main.js', import.meta.url));
  let stderr = '';
  const counts = emptyCounts();
  const notes: string[] = [];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [main],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: base,
      VAST_URL: sim.url,
      VAST_API_KEY: KEY,
      VAST_MCP_STATE_DIR: stateDir,
      VAST_MCP_COPY_ROOT: copyRoot,
      VAST_MCP_CONFIG: profiles,
      VAST_MCP_POLL_MS: '100',
      VAST_MCP_LOG_LEVEL: 'info',
      // Pacing on, as users run it: the server spaces its calls under the documented limits the
      // simulator enforces; 429s still come from the fault plan and from the search bucket.
      VAST_MCP_PACING: o.pacing === false ? 'off' : 'on',
      // The simulator commits a create at once or (late_create) 1.5 s later: a 4 s look-up window is
      // longer than its commit latency and keeps a lost create answer from costing 30 s of campaign.
      VAST_MCP_CREATE_COMMIT_WINDOW_MS: '4000',
    },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (c) => (stderr += String(c)));
  const client = new Client({ name: 'campaign', version: '1' });
  let closing = false;
  client.onerror = (e) => {
    counts.unhandled_crashes++;
    notes.push(`protocol error: ${e.message}`);
  };
  transport.onclose = () => {
    if (!closing) {
      counts.unhandled_crashes++;
      notes.push('the server process exited during the campaign');
    }
  };
  await client.connect(transport);
  // The money rounds run on their own simulators and state directories, alongside the sequences
  // (which spend most of their time waiting out the platform's rate limits).
  const moneyFired: Record<string, number> = {};
  const money = runMoneyFaults({
    seed: o.seed,
    rounds: Math.max(4, Math.min(12, Math.ceil(o.sequences / 10))),
    serverMain: main,
    faults: o.faults ?? DEFAULT_FAULTS,
    counts,
    notes,
    fired: moneyFired,
  }).catch((e: unknown) => {
    counts.unhandled_crashes++;
    notes.push(`money faults: ${(e as Error).message}`);
  });
  const ctx: SequenceContext = {
    client,
    sim,
    rng: createRng(`campaign:${o.seed}`),
    copyRoot,
    calls: [],
    approvals: new Map(),
    created: [],
    faults: {},
    copies: [],
  };
  // Each class runs the first time its point in a sequence is reached (so a short slice samples all
  // of them), then at its rate.
  const sampled = new Set<string>();
  const pick = (name: string, p: number) => {
    const first = !sampled.has(name);
    sampled.add(name);
    return ctx.rng.chance(p) || first;
  };
  ctx.hooks = {
    async afterWork(id, index, call) {
      if (pick('symlink_download', 0.25)) await hostile.download(ctx, id, index, call);
      if (pick('symlink_upload', 0.15)) await hostile.upload(ctx, id, index, call);
      if (pick('full_disk', 0.12))
        await fullInstanceDisk(ctx, id, index, call, (note) => {
          counts.partial_files_as_complete++;
          notes.push(note);
        });
    },
    async beforeDestroy(id, call) {
      if (pick('restart_before_dialog', 0.2)) await hostRestart(ctx, id, call);
    },
    async beforeApproval(id, call) {
      if (pick('restart_before_approval', 0.1)) await hostRestart(ctx, id, call);
    },
  };
  try {
    for (let i = 0; i < o.sequences; i++) {
      try {
        hostile.beforeSequence();
        await runSequence(ctx, i);
        hostile.afterSequence();
        await trust.afterSequence(ctx);
      } catch (e) {
        counts.unhandled_crashes++;
        notes.push(`sequence ${i}: ${(e as Error).message}`);
      }
      o.onProgress?.(i + 1, o.sequences);
    }
  } finally {
    closing = true;
    await client.close().catch(() => undefined);
    trust.close();
  }
  // The server's log, for finding where a slow campaign spends its time (not part of the summary).
  if (process.env.VAST_CAMPAIGN_STDERR) writeFileSync(process.env.VAST_CAMPAIGN_STDERR, stderr);
  if (process.env.VAST_CAMPAIGN_CALLS) writeFileSync(process.env.VAST_CAMPAIGN_CALLS, JSON.stringify(ctx.calls, null, 1));
  const mainSeconds = Math.round((Date.now() - started) / 1000);
  trust.finish(ctx);
  Object.assign(counts, trust.counts);
  notes.push(...trust.notes);
  counts.copy_root_escapes = hostile.escapes;
  notes.push(...hostile.notes);

  // Ground truth from the simulator.
  const labels = new Map<string, number>();
  for (const inst of sim.world.instances.values()) if (inst.label) labels.set(inst.label, (labels.get(inst.label) ?? 0) + 1);
  counts.double_rentals = [...labels.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
  const ledger = new CopyLedger(stateDir);
  // Only a destroy the server asked for counts: the platform itself deletes expired rentals (48 h after their
  // end_date) and accounts at $0, which no approval governs.
  const askedToDestroy = new Set(
    sim.requests.flatMap((q) => {
      const m = q.method === 'DELETE' ? /^\/api\/v0\/instances\/(\d+)\/?$/.exec(q.path) : null;
      return m ? [Number(m[1])] : [];
    }),
  );
  for (const inst of sim.world.instances.values()) {
    if (inst.destroyedAt === null || !askedToDestroy.has(inst.id)) continue;
    const approval = ctx.approvals.get(inst.id);
    // Only a copy made since the container last came up or was restarted by the host counts.
    const since = Math.max(inst.starts?.at(-1) ?? 0, inst.hostRestarts?.at(-1) ?? 0);
    const copiesAt = (await ledger.verifiedCopiesFor(inst.id)).map((c) => c.at);
    if (destroyUnjustified(approval, copiesAt, since)) {
      counts.destroys_without_approval_and_copy++;
      const why = !approval ? 'approval' : copiesAt.length ? 'a verified copy since its last start' : 'a verified copy or discard';
      notes.push(`instance ${inst.id} was destroyed without ${why}`);
    }
  }
  for (const c of ctx.calls) {
    const limit = c.tool === 'create' ? 90_000 : c.tool === 'copy' ? 120_000 : 60_000;
    if (c.ms > limit) {
      counts.polls_past_deadline++;
      notes.push(`${c.tool} took ${c.ms} ms`);
    }
    if (/Internal error \(id /.test(c.text)) {
      counts.unhandled_crashes++;
      notes.push(`${c.tool}: ${c.text.slice(0, 200)}`);
    }
  }
  for (const copy of ctx.copies) {
    const actual = existsSync(copy.path) ? createHash('sha256').update(readFileSync(copy.path)).digest('hex') : 'missing';
    if (actual !== copy.reported || actual !== copy.source) {
      counts.partial_files_as_complete++;
      notes.push(`${copy.path}: file ${actual.slice(0, 12)}, reported ${copy.reported.slice(0, 12)}, source ${copy.source.slice(0, 12)}`);
    }
  }
  const audit = existsSync(join(stateDir, 'audit.jsonl')) ? readFileSync(join(stateDir, 'audit.jsonl'), 'utf8') : '';
  const onstarts = [...sim.world.instances.values()].map((i) => `${i.onstart ?? ''}${JSON.stringify(i.env)}`).join('\n');
  const emitted = [
    ctx.calls.map((c) => c.text).join('\n'),
    stderr,
    audit,
    existsSync(ledger.path) ? readFileSync(ledger.path, 'utf8') : '',
    onstarts,
  ].join('\n');
  counts.key_appearances = countOccurrences(emitted, KEY);

  const faults: Record<string, number> = { ...ctx.faults };
  for (const f of sim.faults.fired) {
    const kind = f.kind === 'error' ? `http_${f.status}` : f.kind === 'delay' ? 'latency' : f.kind === 'drop_response' ? 'dropped_response' : f.kind;
    faults[kind] = (faults[kind] ?? 0) + 1;
  }
  if (sim.rateLimitHits()) faults.rate_limited = sim.rateLimitHits();
  await sim.close();
  await money;
  for (const [k, v] of Object.entries(moneyFired)) faults[k] = (faults[k] ?? 0) + v;
  const ok = Object.values(counts).every((n) => n === 0);
  const timings: CampaignSummary['timings'] = {};
  for (const c of ctx.calls) {
    const t = timings[c.tool] ?? { calls: 0, mean_ms: 0, max_ms: 0 };
    timings[c.tool] = t;
    t.mean_ms = Math.round((t.mean_ms * t.calls + c.ms) / (t.calls + 1));
    t.calls++;
    t.max_ms = Math.max(t.max_ms, c.ms);
  }
  return {
    seed: o.seed,
    sequences: o.sequences,
    calls: ctx.calls.length,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    seconds_sequences: mainSeconds,
    faults,
    timings,
    invariants: counts,
    ok,
    notes: notes.slice(0, 50),
  };
}
