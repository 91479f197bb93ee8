import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { runCampaign, DEFAULT_FAULTS, type CampaignSummary } from './campaign/run-campaign.js';

/** `npm run campaign`: randomized chat-ops sequences under faults, with invariant checks. */
function table(s: CampaignSummary): string {
  const rows: [string, string][] = [
    ['seed', s.seed],
    ['sequences', String(s.sequences)],
    ['tool calls', String(s.calls)],
    ['seconds', `${s.seconds} (sequences ${s.seconds_sequences})`],
    ...Object.entries(s.faults)
      .sort()
      .map(([k, v]) => [`fault: ${k}`, String(v)] as [string, string]),
    ...Object.entries(s.invariants).map(([k, v]) => [`INVARIANT ${k}`, `${v}${v === 0 ? '' : '   <-- VIOLATED'}`] as [string, string]),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

async function main(): Promise<void> {
  if (process.argv.includes('--jobs')) return void (await (await import('./campaign-jobs.js')).main(process.argv.slice(2)));
  const { values } = parseArgs({
    options: {
      sequences: { type: 'string' },
      seed: { type: 'string' },
      faults: { type: 'string' },
      'rate-limits': { type: 'boolean' },
      'no-pacing': { type: 'boolean' },
      out: { type: 'string' },
    },
  });
  const sequences = Number(values.sequences ?? 150);
  if (!Number.isInteger(sequences) || sequences < 1) throw new Error('--sequences must be a positive whole number');
  const seed = values.seed ?? String(Date.now() % 1_000_000);
  const out = values.out ?? 'reports/campaign.json';
  process.stdout.write(
    `campaign: ${sequences} sequences, seed ${seed}, faults ${values.faults ?? DEFAULT_FAULTS}${values['rate-limits'] ? ', rate limits on' : ''}\n`,
  );
  const summary = await runCampaign({
    sequences,
    seed,
    faults: values.faults,
    rateLimits: values['rate-limits'],
    pacing: !values['no-pacing'],
    onProgress: (d, t) => {
      if (d % 10 === 0 || d === t) process.stdout.write(`  ${d}/${t}\n`);
    },
  });
  process.stdout.write(`\n${table(summary)}\n`);
  if (summary.notes.length) process.stdout.write(`\nnotes:\n${summary.notes.map((n) => `  - ${n}`).join('\n')}\n`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(
    `\nJSON: ${out}\n${summary.ok ? 'all invariants hold' : `INVARIANTS VIOLATED — replay with: npm run campaign -- --seed ${seed} --sequences ${sequences}`}\n`,
  );
  process.exit(summary.ok ? 0 : 1);
}

main().catch((e: unknown) => {
  process.stderr.write(`campaign failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(2);
});
