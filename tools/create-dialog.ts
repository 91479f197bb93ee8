import type { ServerConfig } from '../server/config.js';
import type { Plan, Preflight, Resolved } from '../server/vast/create-plan.js';

const KEY_SOURCES: Record<ServerConfig['apiKeySource'], string> = {
  env: 'VAST_API_KEY environment variable',
  file: '~/.config/vastai/vast_api_key',
  sandbox: 'sandbox simulator key',
  none: 'none configured',
};

/** The words the user sees before renting: every required field, the full price, and what else is running. */
export function createDialog(keySource: ServerConfig['apiKeySource'], r: Resolved, plan: Plan, unexpected: Preflight[], notes: string[]) {
  const filters = Object.fromEntries(Object.entries(r.filters).filter(([, v]) => v !== undefined));
  const proposal = { api_key_source: keySource, image: r.image, disk_gb: r.disk_gb, count: r.count, interruptible: r.interruptible, filters, defaults_applied: r.defaults_applied };
  const offerLines = plan.quote.map(
    (q) => `  • offer ${q.offer_id}: ${q.num_gpus}x ${q.gpu_name}, ${q.location ?? '?'}, reliability ${q.reliability?.toFixed(3) ?? '?'}, direct ports ${q.direct_ports}\n` +
      `    $${q.total_per_hour.toFixed(4)}/h = GPU $${q.gpu_per_hour.toFixed(4)}${q.bid_per_hour !== null ? ' (interruptible bid)' : ''} + disk $${q.disk_per_hour.toFixed(4)} ` +
      `(storage $${q.storage_cost_per_gb_month}/GB/month); bandwidth $${q.bandwidth_up_per_gb}/GB up, $${q.bandwidth_down_per_gb}/GB down; ${r.hours} h ≈ $${q.projected_total.toFixed(2)}`,
  );
  const lines = [
    `Proposal to rent ${r.count} instance(s):`,
    `  API key: ${KEY_SOURCES[keySource]}`,
    `  Offer filter: ${JSON.stringify(filters)}${r.interruptible ? ` (interruptible, bid = min_bid × ${r.bid_multiplier})` : ' (on-demand)'}`,
    `  Image: ${r.image}`,
    `  Disk: ${r.disk_gb} GB (fixed at creation; billed until destroy, also while stopped)`,
    `  Count: ${r.count}`,
    ...offerLines,
    `  Total: $${plan.total_per_hour.toFixed(4)}/h; ${r.hours} h ≈ $${plan.projected_total.toFixed(2)} (bandwidth extra)`,
  ];
  if (r.defaults_applied.length) lines.push(`  Proposed defaults (the user did not give these): ${r.defaults_applied.join(', ')}`);
  if (unexpected.length) {
    lines.push(`  Already on the account (${unexpected.length}), billing $${unexpected.reduce((s, u) => s + u.burn_per_hour, 0).toFixed(4)}/h:`);
    for (const u of unexpected) lines.push(`    - #${u.id} ${u.label ?? '(no label)'} ${u.state ?? 'provisioning'} $${u.burn_per_hour.toFixed(4)}/h`);
  }
  for (const n of notes) lines.push(`  Note: ${n}`);
  const questions = [
    `Use the API key from ${KEY_SOURCES[keySource]}?`,
    `Rent ${plan.quote.map((q) => `offer ${q.offer_id}`).join(', ')} (filter ${JSON.stringify(filters)}), or a different GPU/region/price limit?`,
    `Image ${r.image}?`,
    `Disk ${r.disk_gb} GB (cannot grow later)?`,
    `Count ${r.count}?`,
  ];
  if (unexpected.length) questions.push(`You already have ${unexpected.length} instance(s) running or billing; rent more anyway?`);
  return { proposal, message: lines.join('\n'), questions };
}
