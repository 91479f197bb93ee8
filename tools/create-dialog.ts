import type { ServerConfig } from '../server/config.js';
import { escapeLine, quoteForHuman } from '../server/safety/untrusted-text.js';
import type { Plan, Preflight, Resolved } from '../server/vast/create-plan.js';

const KEY_SOURCES: Record<ServerConfig['apiKeySource'], string> = {
  env: 'VAST_API_KEY environment variable',
  file: '~/.config/vastai/vast_api_key',
  sandbox: 'sandbox simulator key',
  none: 'none configured',
};

/** What will run on the instance besides the image: shown so nothing runs that the human did not see. */
export interface RunDetails {
  label_prefix: string;
  project: string | null;
  onstart: string | null;
  env_names: string[];
  ports: string[];
}

export function runDetails(
  label: string | undefined,
  project: string | undefined,
  onstart: string | undefined,
  env: Record<string, string> | undefined,
): RunDetails {
  const keys = Object.keys(env ?? {});
  return {
    label_prefix: label ?? '(your account name)',
    project: project ?? null,
    onstart: onstart ?? null,
    env_names: keys.filter((k) => !k.startsWith('-p ')),
    ports: keys.filter((k) => k.startsWith('-p ')).map((k) => k.slice(3)),
  };
}

/**
 * The words the user sees before renting: every required field, the full price, what will run, and
 * everything already billing on the account (whatever the agent said it expected).
 */
export function createDialog(
  keySource: ServerConfig['apiKeySource'],
  r: Resolved,
  plan: Plan,
  billing: Preflight[],
  unexpected: Preflight[],
  notes: string[],
  run?: RunDetails,
) {
  const filters = Object.fromEntries(Object.entries(r.filters).filter(([, v]) => v !== undefined));
  const proposal = {
    api_key_source: keySource,
    image: r.image,
    disk_gb: r.disk_gb,
    count: r.count,
    interruptible: r.interruptible,
    filters,
    defaults_applied: r.defaults_applied,
  };
  const offerLines = plan.quote.map(
    (q) =>
      `  • offer ${q.offer_id}: ${q.num_gpus}x ${q.gpu_name}, ${escapeLine(q.location ?? '?', 60)}, reliability ${q.reliability?.toFixed(3) ?? '?'}, direct ports ${q.direct_ports}\n` +
      `    $${q.total_per_hour.toFixed(4)}/h = GPU $${q.gpu_per_hour.toFixed(4)}${q.bid_per_hour !== null ? ' (interruptible bid)' : ''} + disk $${q.disk_per_hour.toFixed(4)} ` +
      `(storage $${q.storage_cost_per_gb_month}/GB/month); bandwidth $${q.bandwidth_up_per_gb}/GB up, $${q.bandwidth_down_per_gb}/GB down; ${r.hours} h ≈ $${q.projected_total.toFixed(2)}`,
  );
  const lines = [
    `Proposal to rent ${r.count} instance(s):`,
    `  API key: ${KEY_SOURCES[keySource]}`,
    `  Offer filter: ${escapeLine(JSON.stringify(filters), 400)}${r.interruptible ? ` (interruptible, bid = min_bid × ${r.bid_multiplier})` : ' (on-demand)'}`,
    `  Image: ${escapeLine(r.image, 300)}`,
    `  Disk: ${r.disk_gb} GB (fixed at creation; billed until destroy, also while stopped)`,
    `  Count: ${r.count}`,
    ...offerLines,
    `  Total: $${plan.total_per_hour.toFixed(4)}/h; ${r.hours} h ≈ $${plan.projected_total.toFixed(2)} (bandwidth extra)`,
  ];
  if (run) {
    lines.push(`  Label: ${quoteForHuman(run.label_prefix, 80)} + a unique suffix; project: ${run.project ?? '(none)'}`);
    lines.push(
      `  Exposed ports: ${run.ports.length ? run.ports.map((p) => escapeLine(p, 40)).join(', ') : 'none beyond SSH'}; environment variables: ${run.env_names.length ? run.env_names.map((n) => escapeLine(n, 60)).join(', ') : 'none'} (values not shown)`,
    );
    if (run.onstart !== null) {
      const shown = run.onstart
        .split('\n')
        .slice(0, 20)
        .map((l) => `    | ${escapeLine(l, 160)}`);
      const more = run.onstart.split('\n').length - shown.length;
      lines.push(`  onstart script (runs at every start):`, ...shown, ...(more > 0 ? [`    | …(${more} more lines)`] : []));
    } else lines.push('  onstart script: none');
  }
  if (r.defaults_applied.length) lines.push(`  Proposed defaults (the user did not give these): ${r.defaults_applied.join(', ')}`);
  if (billing.length) {
    const unexpectedIds = new Set(unexpected.map((u) => u.id));
    lines.push(`  Already on the account (${billing.length}), billing $${billing.reduce((s, u) => s + u.burn_per_hour, 0).toFixed(4)}/h now:`);
    for (const u of billing)
      lines.push(
        `    - #${u.id} ${u.label === null ? '(no label)' : quoteForHuman(u.label, 80)} ${escapeLine(u.state ?? 'provisioning', 30)} $${u.burn_per_hour.toFixed(4)}/h${unexpectedIds.has(u.id) ? ' (not mentioned by the agent)' : ''}`,
      );
  }
  for (const n of notes) lines.push(`  Note: ${n}`);
  const questions = [
    `Use the API key from ${KEY_SOURCES[keySource]}?`,
    `Rent ${plan.quote.map((q) => `offer ${q.offer_id}`).join(', ')} (filter ${JSON.stringify(filters)}), or a different GPU/region/price limit?`,
    `Image ${r.image}?`,
    `Disk ${r.disk_gb} GB (cannot grow later)?`,
    `Count ${r.count}?`,
  ];
  if (run?.onstart) questions.push('Run the onstart script shown at every start?');
  if (billing.length) questions.push(`You already have ${billing.length} instance(s) billing; rent more anyway?`);
  return { proposal, message: lines.join('\n'), questions };
}
