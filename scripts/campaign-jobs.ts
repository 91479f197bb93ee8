import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { runJobsCampaign, type JobsCampaignSummary } from './campaign/jobs-run.js';

/** `npm run campaign -- --jobs [--count N] [--seed S] [--out FILE]`: the jobs campaign (scripts/campaign/jobs-*.ts). */
function table(s: JobsCampaignSummary): string {
  const rows: [string, string][] = [
    ['seed', s.seed],
    ['jobs', String(s.jobs)],
    ['seconds', String(s.seconds)],
    ...Object.entries(s.states)
      .sort()
      .map(([k, v]) => [`ended: ${k}`, String(v)] as [string, string]),
    ['supervisor starts', String(s.supervisor.starts)],
    ['supervisor SIGKILLs', String(s.supervisor.kills)],
    ['longest time without a supervisor (ms)', String(s.supervisor.longest_gap_ms)],
    ['supervisor peak RSS (MB)', String(s.supervisor.peak_rss_mb)],
    ...Object.entries(s.faults)
      .sort()
      .map(([k, v]) => [`fault: ${k}`, String(v)] as [string, string]),
    ...Object.entries(s.judged).map(([k, v]) => [`judged: ${k}`, String(v)] as [string, string]),
    ...Object.entries(s.invariants).map(([k, v]) => [`INVARIANT ${k}`, `${v}${v === 0 ? '' : '   <-- VIOLATED'}`] as [string, string]),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

export async function main(argv: string[]): Promise<never> {
  const { values } = parseArgs({
    args: argv,
    options: { jobs: { type: 'boolean' }, count: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' } },
  });
  const jobs = Number(values.count ?? 12);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error('--count must be a positive whole number');
  const seed = values.seed ?? String(Date.now() % 1_000_000);
  const out = values.out ?? 'reports/campaign-jobs.json';
  process.stdout.write(`jobs campaign: ${jobs} jobs, seed ${seed}\n`);
  const summary = await runJobsCampaign({ jobs, seed, onProgress: (l) => process.stdout.write(`  ${l}\n`) });
  process.stdout.write(`\n${table(summary)}\n`);
  process.stdout.write(`\njobs:\n${summary.ended.map((l) => `  ${l}`).join('\n')}\n`);
  for (const [k, list] of Object.entries(summary.violations)) process.stdout.write(`\n${k}:\n${(list ?? []).map((l) => `  - ${l}`).join('\n')}\n`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(
    `\nJSON: ${out}\n${summary.ok ? 'all jobs invariants hold' : `INVARIANTS VIOLATED — replay with: npm run campaign -- --jobs --seed ${seed} --count ${jobs}`}\n`,
  );
  process.exit(summary.ok ? 0 : 1);
}
