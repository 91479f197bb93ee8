import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { parse, stringify } from 'yaml';
import { startSimulator } from '../sim/server.js';
import { addToken } from '../server/auth/token-cli.js';
import { quantile } from './bench/stats.js';
import { cpuSeconds, startReplica, stopReplica } from './load/replicas.js';
import type { TestPostgres } from './embedded-postgres.js';

/**
 * `npm run load`: N concurrent authenticated MCP sessions over Streamable HTTP, spread over R `serve`
 * processes, mixing reads (offers, status, billing) with confirmed rentals (create → confirmation
 * token → create) against the simulator. Loopback only, bounded by --ops per session and a deadline.
 * Reports p50/p99 latency per call kind, the error count, and whether every confirmed rental exists
 * exactly once on the platform. --store-url is handed to the replicas (VAST_MCP_STORE_URL) for the
 * shared-store mode (one state directory for all, as in compose.yaml), or --postgres starts a local
 * PostgreSQL 18 (embedded-postgres) for it; without either each replica keeps its
 * own state directory. --kill-after-seconds S kills replica 1 with SIGKILL S seconds in (15.6): its
 * sessions fail over to a live replica, and a confirmed create that died with it is reconciled there
 * (found by its label's marker, else its confirmation token redeemed on the other replica). Then no
 * rental may be doubled, and every confirmed rental must exist exactly once.
 */
const { values: v } = parseArgs({
  options: {
    sessions: { type: 'string', default: '50' },
    replicas: { type: 'string', default: '2' },
    ops: { type: 'string', default: '12' },
    'rent-share': { type: 'string', default: '0.25' },
    'store-url': { type: 'string' },
    'deadline-seconds': { type: 'string', default: '600' },
    'realistic-limits': { type: 'boolean', default: false },
    'kill-after-seconds': { type: 'string' },
    postgres: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const SESSIONS = Math.min(500, Number(v.sessions));
const REPLICAS = Math.min(8, Number(v.replicas));
const OPS = Math.min(1000, Number(v.ops));
const RENT_SHARE = Number(v['rent-share']);
const DEADLINE = performance.now() + Number(v['deadline-seconds']) * 1000;
const KEY = 'LOAD-KEY-0123456789abcdef0123';
const MAIN = fileURLToPath(new URL('../server/main.js', import.meta.url));
const log = (s: string) => process.stdout.write(`${s}\n`);

interface Sample {
  kind: string;
  ms: number;
  error: string | null;
}
const samples: Sample[] = [];
let rentalsConfirmed = 0;

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : '';
  return `${(e as Error).message}${why}`.slice(0, 200);
}

/** Another session rented the offer first: the platform's answer, correctly reported ("Nothing was rented"). */
const isOfferRace = (error: string) => /No longer available .*Nothing was rented|Offer \d+ is no longer available \(taken or unlisted\)/.test(error);

const killAfter = v['kill-after-seconds'] === undefined ? null : Number(v['kill-after-seconds']);
/** Replicas killed by --kill-after-seconds: a session on one fails over to the next live replica. */
const dead = new Set<number>();
let urls: string[] = [];
/** The shared store the replicas use: --store-url, or the database of --postgres. */
let storeUrl: string | undefined = v['store-url'];
/** What the kill did to sessions: calls that died with the replica, and what became of the rentals among them. */
const kill = { failovers: 0, calls_lost: 0, rentals_found_after: 0, tokens_redeemed_after: 0, waited_for_claim: 0, tokens_used_by_dead_call: 0 };

async function connectTo(n: number, url: string, token: string, isDead: () => boolean = () => false): Promise<Client | null> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: `load-${n}`, version: '1' });
  const t = performance.now();
  try {
    await client.connect(transport);
    samples.push({ kind: 'initialize', ms: performance.now() - t, error: null });
    return client;
  } catch (e) {
    // A replica killed while this session connected to it: not an error of the server's (the caller fails over).
    if (isDead()) kill.calls_lost++;
    else samples.push({ kind: 'initialize', ms: performance.now() - t, error: `exception: ${describe(e)}` });
    return null;
  }
}

/** The marker a session's rental carries in its label (unique: `op1x3y` is no part of `op1x30y`). */
const marker = (n: number, i: number) => `op${n}x${i}y`;

async function session(n: number, home: number, token: string, seed: number): Promise<void> {
  let rnd = seed;
  const next = () => {
    rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
    return rnd / 2 ** 32;
  };
  let at = home;
  /** Connects to replica `at`, or the next live one when it was killed (before or while connecting). */
  const connectLive = async (): Promise<Client | null> => {
    for (let tries = 0; tries < urls.length; tries++) {
      if (!dead.has(at)) {
        const c = await connectTo(n, urls[at]!, token, () => dead.has(at));
        if (c || !dead.has(at)) return c;
      }
      at = (at + 1) % urls.length;
      kill.failovers++;
    }
    return null;
  };
  let client = await connectLive();
  if (!client) return;
  // With a kill planned, a call to the dead replica fails after 20 s rather than the SDK's 60 s.
  const options = killAfter !== null ? { timeout: 20_000 } : undefined;
  /**
   * One tool call. A call that dies with a killed replica is not an error of the server's: it is counted
   * apart, the session moves to a live replica (a new MCP session) and the caller is told to reconcile.
   */
  const call = async (kind: string, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult | 'lost' | null> => {
    const t = performance.now();
    try {
      const r = (await client!.callTool({ name, arguments: args }, undefined, options)) as CallToolResult;
      const text = r.isError ? r.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ') : null;
      samples.push({ kind, ms: performance.now() - t, error: text ? text.slice(0, 160) : null });
      return r.isError ? null : r;
    } catch (e) {
      if (!dead.has(at)) {
        samples.push({ kind, ms: performance.now() - t, error: `exception: ${describe(e)}` });
        return null;
      }
      kill.calls_lost++;
      await client!.close().catch(() => undefined);
      client = await connectLive();
      return client ? 'lost' : null;
    }
  };
  const structured = <T>(r: CallToolResult | 'lost' | null) => (r && r !== 'lost' ? (r.structuredContent as T | undefined) : undefined);
  /**
   * After a confirmed create died with its replica: the rental is found by its marker, else the token is
   * redeemed here, once the dead call's claim on it has run out (the server says how long to wait).
   */
  const reconcile = async (args: Record<string, unknown>, token: string, mark: string) => {
    for (let round = 0; round < 3; round++) {
      const listed = structured<{ instances?: { label?: string | null }[] }>(await call('status (after kill)', 'status'));
      if (listed?.instances?.some((i) => i.label?.includes(mark))) {
        kill.rentals_found_after++;
        rentalsConfirmed++;
        return;
      }
      const t = performance.now();
      const again = await client!
        .callTool({ name: 'create', arguments: { ...args, confirmation_token: token } }, undefined, options)
        .catch(() => null);
      const text = (again?.content as { type: string; text?: string }[] | undefined)?.map((c) => c.text ?? '').join(' ') ?? '';
      if ((again?.structuredContent as { status?: string } | undefined)?.status === 'created') {
        kill.tokens_redeemed_after++;
        rentalsConfirmed++;
        return;
      }
      if (/unknown or was already used/.test(text)) {
        // The dead call used the token up right before its request and died: whether that request reached the
        // platform only the platform knows; nothing was listed above, and the end-of-run count checks it.
        kill.tokens_used_by_dead_call++;
        return;
      }
      const wait = /can be used again in (\d+) s/.exec(text);
      if (!wait) {
        samples.push({ kind: 'create (after kill)', ms: performance.now() - t, error: text.slice(0, 160) || 'no answer' });
        return;
      }
      kill.waited_for_claim++;
      await new Promise((r) => setTimeout(r, (Number(wait[1]) + 1) * 1000));
    }
  };
  for (let i = 0; i < OPS && performance.now() < DEADLINE && client; i++) {
    const r = next();
    if (r < RENT_SHARE) {
      const found = structured<{ offers?: { id: number }[] }>(await call('offers', 'offers', { gpu_name: 'RTX 4090', limit: 20 }));
      const offers = found?.offers ?? [];
      if (offers.length === 0) continue;
      const offerId = offers[Math.floor(next() * offers.length)]!.id;
      const args = { offer_id: offerId, disk_gb: 20, hours: 1, label: marker(n, i) };
      const token = structured<{ confirmation_token?: string }>(await call('create (proposal)', 'create', args))?.confirmation_token;
      if (!token) continue;
      const done = await call('create (confirmed)', 'create', { ...args, confirmation_token: token });
      if (done === 'lost') await reconcile(args, token, marker(n, i));
      else if (structured<{ status?: string }>(done)?.status === 'created') rentalsConfirmed++;
    } else if (r < RENT_SHARE + (1 - RENT_SHARE) / 3) await call('offers', 'offers', { gpu_name: 'RTX 4090', limit: 5 });
    else if (r < RENT_SHARE + (2 * (1 - RENT_SHARE)) / 3) await call('status', 'status');
    else await call('billing', 'billing');
  }
  await client?.close().catch(() => undefined);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vast-mcp-load-'));
  let pg: TestPostgres | null = null;
  if (v.postgres && !storeUrl) {
    // Loaded only when asked for: embedded-postgres is a dev dependency.
    const { startTestPostgres } = await import('./embedded-postgres.js');
    pg = await startTestPostgres();
    storeUrl = await pg.newDatabase();
  }
  const sim = await startSimulator({ port: 0, apiKey: KEY, seed: 'load', offers: 4000, rateLimits: Boolean(v['realistic-limits']) });
  const tokensFile = join(dir, 'tokens.yaml');
  const tokens = Array.from({ length: SESSIONS }, (_, i) => addToken(tokensFile, `load-${String(i).padStart(3, '0')}`, `team-${i % 5}`));
  // The shipped profiles, with budgets high enough that the load measures the server, not the caps.
  const profiles = parse(readFileSync(fileURLToPath(new URL('../../config/default-profiles.yaml', import.meta.url)), 'utf8'));
  profiles.budgets = { ...profiles.budgets, total_usd: 1_000_000, max_burn_per_hour: 100_000 };
  const profilesFile = join(dir, 'profiles.yaml');
  writeFileSync(profilesFile, stringify(profiles));
  const replicas: { url: string; proc: ChildProcess }[] = [];
  const setup = {
    main: MAIN,
    apiKey: KEY,
    simUrl: sim.url,
    dir,
    tokens: tokensFile,
    profiles: profilesFile,
    realisticLimits: Boolean(v['realistic-limits']),
    storeUrl,
  };
  for (let i = 0; i < REPLICAS; i++) replicas.push(await startReplica(i, setup));
  log(`load: ${SESSIONS} sessions × ${OPS} ops over ${REPLICAS} replicas (${replicas.map((r) => r.url).join(', ')})`);
  urls = replicas.map((r) => r.url);
  const t0 = performance.now();
  const killer =
    killAfter !== null && REPLICAS > 1
      ? setTimeout(() => {
          dead.add(0);
          replicas[0]!.proc.kill('SIGKILL');
          log(`killed replica 1 (SIGKILL) at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        }, killAfter * 1000)
      : null;
  await Promise.all(tokens.map((tok, i) => session(i, i % REPLICAS, tok, 1000 + i)));
  if (killer) clearTimeout(killer);
  const wall = (performance.now() - t0) / 1000;
  const cpu = replicas.map((r, i) => (dead.has(i) ? null : cpuSeconds(r.proc.pid)));
  const own = process.cpuUsage();
  const stopped = await Promise.all(replicas.map((r, i) => (dead.has(i) ? Promise.resolve(0) : stopReplica(r.proc))));
  const live = sim.world.liveInstances();
  const onPlatform = live.length;
  // A doubled rental: two live instances carrying one operation's marker.
  const perMarker = new Map<string, number>();
  for (const inst of live) {
    const m = /op\d+x\d+y/.exec(inst.label ?? '')?.[0];
    if (m) perMarker.set(m, (perMarker.get(m) ?? 0) + 1);
  }
  const doubled = [...perMarker.values()].filter((c) => c > 1).length;
  await sim.close();
  await pg?.stop();

  const kinds = [...new Set(samples.map((s) => s.kind))];
  const row = (name: string, s: Sample[]) => {
    const ms = s.map((x) => x.ms);
    const race = s.filter((x) => x.error && isOfferRace(x.error)).length;
    const e = s.filter((x) => x.error).length - race;
    const cells = [String(s.length).padStart(6), quantile(ms, 0.5).toFixed(1).padStart(9), quantile(ms, 0.99).toFixed(1).padStart(9)];
    return `${name.padEnd(20)} ${cells.join(' ')} ${String(e).padStart(7)} ${String(race).padStart(11)}`;
  };
  log(`${'call'.padEnd(20)} ${'n'.padStart(6)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'errors'.padStart(7)} offer races`);
  for (const k of kinds)
    log(
      row(
        k,
        samples.filter((s) => s.kind === k),
      ),
    );
  log(row('ALL', samples));
  const errors = samples.filter((s) => s.error && !isOfferRace(s.error));
  const races = samples.filter((s) => s.error && isOfferRace(s.error)).length;
  const byMessage = new Map<string, number>();
  for (const e of errors) byMessage.set(e.error!, (byMessage.get(e.error!) ?? 0) + 1);
  for (const [m, n] of [...byMessage].sort((a, b) => b[1] - a[1]).slice(0, 5)) log(`  ${n} × ${m}`);
  log(
    `wall ${wall.toFixed(1)} s, ${(samples.length / wall).toFixed(1)} calls/s; rentals confirmed ${rentalsConfirmed}, instances on the platform ${onPlatform}; replicas exited ${stopped.join(', ')}`,
  );
  if (killAfter !== null)
    log(
      `kill: ${kill.calls_lost} call(s) died with replica 1, ${kill.failovers} failover(s); of the confirmed creates among them ${kill.rentals_found_after} found by label, ${kill.tokens_redeemed_after} redeemed on another replica (${kill.waited_for_claim} after waiting out the dead call's claim), ${kill.tokens_used_by_dead_call} used up by the dead call just before its request (ask again); doubled rentals ${doubled}`,
    );
  const cpuText = cpu.map((c) => (c === null ? '?' : `${c.toFixed(1)} s`)).join(', ');
  log(`CPU: replicas ${cpuText}; load process (clients + simulator) ${((own.user + own.system) / 1e6).toFixed(1)} s`);
  const result = {
    sessions: SESSIONS,
    replicas: REPLICAS,
    calls: samples.length,
    errors: errors.length,
    offer_races: races,
    p50_ms: quantile(
      samples.map((s) => s.ms),
      0.5,
    ),
    p99_ms: quantile(
      samples.map((s) => s.ms),
      0.99,
    ),
    rentals_confirmed: rentalsConfirmed,
    instances_on_platform: onPlatform,
    wall_seconds: wall,
    replica_cpu_seconds: cpu,
    doubled_rentals: doubled,
    ...(killAfter !== null ? { kill } : {}),
  };
  if (v.json) writeFileSync(v.json, `${JSON.stringify(result, null, 2)}\n`);
  const ok = errors.length === 0 && doubled === 0 && onPlatform === rentalsConfirmed && stopped.every((c) => c === 0);
  process.exitCode = ok ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`load: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
