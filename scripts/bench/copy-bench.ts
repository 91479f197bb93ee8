import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { startSimulator } from '../../sim/server.js';
import { ensureKeyPair } from '../../server/ssh/keys.js';
import { benchRuns, ensureTool, peakRssMb, serve, timeCommand, type Served } from './harness.js';
import { median, type Row } from './stats.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;

export async function rentForBench(s: Served): Promise<number> {
  const offers = (await s.call('offers', { gpu_name: 'RTX 4090', min_direct_ports: 1, limit: 1, disk_gb: 40 })).offers;
  const p = await s.call('create', { offer_id: offers[0].id, disk_gb: 40 });
  const created = await s.call('create', { offer_id: offers[0].id, disk_gb: 40, wait: true, wait_timeout_seconds: 120, confirmation_token: p.confirmation_token });
  return created.instances[0].instance_id as number;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/**
 * Many small files both ways, and one large file over a long link, each side by side with the
 * OpenSSH tools against the same endpoint. Noisy on a shared 2-core machine: read the ratios.
 */
export async function copyShapes(simUrl: string, sim: Sim, key: string, rows: Row[], results: Record<string, unknown>, log: (s: string) => void, parts: Set<string>): Promise<void> {
  const s = await serve(simUrl, key);
  const id = await rentForBench(s);
  const inst = sim.world.instances.get(id)!;
  const pair = await ensureKeyPair(s.stateDir);
  const sshOpts = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-i', pair.path];
  const sshCmd = `ssh ${sshOpts.join(' ')} -p ${inst.directSshPort}`;
  const haveRsync = ensureTool('rsync');
  const run = async (cmd: string, args: string[]) => {
    const r = await timeCommand(cmd, args);
    if (r.code !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(0, 300)}`);
    return r.ms;
  };
  const runs = benchRuns();

  if (parts.has('tree')) {
    log('copy: 1,000 × 4 KiB directory, instance → local…');
    await s.call('ssh', { instance_id: id, command: 'mkdir -p /workspace/tree && cd /workspace/tree && for d in 0 1 2 3 4 5 6 7 8 9; do mkdir -p d$d; for i in $(seq 1 100); do head -c 4096 /dev/urandom > d$d/f$i; done; done', timeout_seconds: 300 });
    const ours: number[] = [];
    const scp: number[] = [];
    const rsync: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await time(() => s.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/tree', local_path: `tree-${i}` })));
      scp.push(await run('scp', [...sshOpts, '-r', '-P', String(inst.directSshPort), 'root@127.0.0.1:/workspace/tree', join(s.copyRoot, `scp-${i}`)]));
      if (haveRsync) rsync.push(await run('rsync', ['-a', '-e', sshCmd, 'root@127.0.0.1:/workspace/tree/', join(s.copyRoot, `rsync-${i}/`)]));
      for (const d of [`tree-${i}`, `scp-${i}`, `rsync-${i}`]) rmSync(join(s.copyRoot, d), { recursive: true, force: true });
    }
    results.tree_down = { ours_ms: median(ours), scp_ms: median(scp), rsync_ms: haveRsync ? median(rsync) : null };
    rows.push({ name: '1,000×4 KiB dir → local vs rsync -a', value: `${(median(ours) / 1000).toFixed(2)} s`, comparison: haveRsync ? `${(median(rsync) / 1000).toFixed(2)} s` : '—', ratio: haveRsync ? median(rsync) / median(ours) : null, target: '≥ 1.0× rsync', met: haveRsync ? median(rsync) / median(ours) >= 1.0 : null, note: haveRsync ? undefined : 'rsync not installed' });
    rows.push({ name: '1,000×4 KiB dir → local vs scp -r', value: `${(median(ours) / 1000).toFixed(2)} s`, comparison: `${(median(scp) / 1000).toFixed(2)} s`, ratio: median(scp) / median(ours), target: '≥ 2× scp', met: median(scp) / median(ours) >= 2 });
  }

  if (parts.has('upload')) {
    log('copy: 1,000 × 4 KiB directory, local → instance…');
    const src = join(s.copyRoot, 'up-src');
    for (let d = 0; d < 10; d++) {
      mkdirSync(join(src, `d${d}`), { recursive: true });
      for (let i = 0; i < 100; i++) writeFileSync(join(src, `d${d}/f${i}`), Buffer.alloc(4096, (d * 100 + i) % 251));
    }
    const ours: number[] = [];
    const rsync: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await time(() => s.call('copy', { instance_id: id, direction: 'local_to_instance', local_path: 'up-src', remote_path: `/workspace/up-${i}` })));
      if (haveRsync) rsync.push(await run('rsync', ['-a', '-e', sshCmd, `${src}/`, `root@127.0.0.1:/workspace/rsync-up-${i}/`]));
      await s.call('ssh', { instance_id: id, command: `rm -rf /workspace/up-${i} /workspace/rsync-up-${i}` });
    }
    results.tree_up = { ours_ms: median(ours), rsync_ms: haveRsync ? median(rsync) : null };
    rows.push({ name: '1,000×4 KiB dir → instance vs rsync -a', value: `${(median(ours) / 1000).toFixed(2)} s`, comparison: haveRsync ? `${(median(rsync) / 1000).toFixed(2)} s` : '—', ratio: haveRsync ? median(rsync) / median(ours) : null, target: '≥ 1.0× rsync', met: haveRsync ? median(rsync) / median(ours) >= 1.0 : null, note: haveRsync ? undefined : 'rsync not installed' });
  }

  if (parts.has('rtt')) {
    const mib = Number(process.env.BENCH_RTT_MIB ?? 1024);
    log(`copy: ${mib} MiB over a simulated 100 ms round trip…`);
    await s.call('ssh', { instance_id: id, command: `head -c ${mib * 1024 * 1024} /dev/urandom > /workspace/far.bin`, timeout_seconds: 300 });
    sim.ssh!.setLink({ rttMs: 100, bytesPerSecond: null });
    try {
      const ours = await time(() => s.call('copy', { instance_id: id, direction: 'instance_to_local', remote_path: '/workspace/far.bin', local_path: 'far.bin' }));
      const scp = await run('scp', [...sshOpts, '-P', String(inst.directSshPort), 'root@127.0.0.1:/workspace/far.bin', join(s.copyRoot, 'far-scp.bin')]);
      results.rtt = { mib, ours_ms: ours, scp_ms: scp };
      const mbps = (ms: number) => (mib * 1024 * 1024) / 1e6 / (ms / 1000);
      rows.push({ name: `${mib} MiB over 100 ms RTT vs scp`, value: `${mbps(ours).toFixed(0)} MB/s`, comparison: `${mbps(scp).toFixed(0)} MB/s`, ratio: scp / ours, target: '≥ 2× scp', met: scp / ours >= 2 });
    } finally {
      sim.ssh!.setLink(null);
      rmSync(join(s.copyRoot, 'far.bin'), { force: true });
      rmSync(join(s.copyRoot, 'far-scp.bin'), { force: true });
    }
  }
  const rss = peakRssMb(s.pid);
  results.copy_shapes_peak_rss_mb = rss;
  rows.push({ name: 'server peak RSS (dirs, uploads, long link)', value: rss === null ? 'n/a' : `${rss.toFixed(0)} MB`, comparison: '—', ratio: null, target: '≤ 150 MB', met: rss === null ? null : rss <= 150 });
  const token = (await s.call('destroy', { instance_id: id, discard: true })).approval_token;
  await s.call('destroy', { instance_id: id, discard: true, approval_token: token });
  await s.close();
}
