import type { ServerDeps } from '../deps.js';
import { openInstanceSsh } from './access.js';

/** `du` of /workspace over SSH, for the destroy approval: what would be lost. Null when unreachable. */
export async function inspectWorkspace(deps: ServerDeps, instanceId: number): Promise<string | null> {
  const access = await openInstanceSsh(deps, instanceId, { attachKey: true, readinessMs: 5000 }).catch(() => null);
  if (!access) return null;
  try {
    const r = await access.session.exec("du -sh /workspace 2>/dev/null | cut -f1; du -sh /workspace/* /workspace/.[!.]* 2>/dev/null | sort -rh | head -8", 30_000, 8192);
    if (r.code !== 0 && !r.stdout.length) return null;
    const [total, ...entries] = r.stdout.toString('utf8').trim().split('\n');
    const items = entries.map((e) => e.split('\t')).filter((p) => p.length === 2).map(([size, path]) => `${path!.replace('/workspace/', '')} (${size})`);
    return `${total ?? '?'} in total${items.length ? `: ${items.join(', ')}` : ' (empty)'}`;
  } finally {
    access.session.end();
  }
}
