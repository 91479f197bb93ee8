import { join } from 'node:path';
import { VastMcpError } from '../errors.js';
import type { ServerDeps } from '../deps.js';
import { diagnose } from '../vast/diagnosis.js';
import { sshEndpoints } from '../vast/instance-view.js';
import type { Instance } from '../vast/schemas.js';
import { HostKeyPins, type HostKeyPin } from './host-key-pins.js';
import { ensureKeyPair, samePublicKey } from './keys.js';
import { SshError, SshSession, type Endpoint } from './ssh-session.js';

export interface AccessOptions {
  /** Attach our key to the instance when it is missing there (default true). */
  attachKey: boolean;
  /** Keep retrying the connection this long after the instance is running. */
  readinessMs: number;
  preferProxy?: boolean;
  /** A client cancel: stops retrying (a connection made meanwhile is closed by the caller's finally). */
  signal?: AbortSignal;
  /**
   * Use a read of the instance this recent instead of a new one (ms). The SSH connection itself
   * checks what matters; a failed one is diagnosed from a fresh read.
   */
  recentReadMs?: number;
}

/** The platform's spacing of instance reads (show_instance: 2 s): a read younger than that cannot be renewed yet anyway. */
export const INSTANCE_READ_SPACING_MS = 2000;

export interface Access {
  session: SshSession;
  endpoint: Endpoint;
  url: string;
  warnings: string[];
}

function parseUrl(url: string, kind: Endpoint['kind']): Endpoint {
  const m = /^ssh:\/\/root@([^:]+):(\d+)$/.exec(url);
  if (!m) throw new VastMcpError(`Unusable SSH address ${url}.`, 'ssh_unavailable');
  return { host: m[1]!, port: Number(m[2]), kind };
}

/** Our key on the account (so new instances get it) and on this instance (existing ones do not). */
async function ensureKey(
  deps: ServerDeps,
  inst: Instance,
  attach: boolean,
): Promise<{ publicKey: string; privateKey: string; attachedNow: boolean; onInstance: boolean }> {
  const pair = await ensureKeyPair(deps.config.stateDir);
  const account = await deps.vast.accountSshKeys();
  if (!account.some((k) => samePublicKey(k, pair.publicKey))) {
    await deps.vast.addAccountSshKey(pair.publicKey);
    deps.audit.record({ tool: 'ssh', action: 'register_key', args: { fingerprint: pair.publicKey.slice(-24) }, result: 'ok' });
  }
  const onInstance = (await deps.vast.instanceSshKeys(inst.id)).some((k) => samePublicKey(k, pair.publicKey));
  if (!onInstance && attach) {
    await deps.vast.attachSshKey(inst.id, pair.publicKey);
    deps.audit.record({ tool: 'ssh', action: 'attach_key', args: { instance_id: inst.id }, result: 'ok', instance_id: inst.id });
    return { ...pair, attachedNow: true, onInstance: true };
  }
  return { ...pair, attachedNow: false, onInstance };
}

function hostKeyRefusal(deps: ServerDeps, instanceId: number, url: string, m: { pinned: HostKeyPin; seen: string }): VastMcpError {
  deps.logger.warn({ instanceId, pinned: m.pinned.fingerprint, seen: m.seen }, 'SSH host key mismatch: refused');
  return new VastMcpError(
    `Refused to use SSH on instance ${instanceId}: ${url} presented host key ${m.seen}, but this instance's key was pinned as ` +
      `${m.pinned.fingerprint} at first contact (${new Date(m.pinned.at).toISOString()}). Something else may be answering on its SSH port ` +
      `(an impostor or a man in the middle), so nothing was run, copied or verified. Check the instance in the Vast console; if you know its ` +
      `sshd was reinstalled, remove its line from ${join(deps.config.stateDir, 'host-keys.jsonl')} to pin the new key.`,
    'ssh_host_key_mismatch',
  );
}

/**
 * Connects to a running instance: direct endpoint preferred, the throttled proxy as fallback, with
 * retries for up to `readinessMs` (sshd may not be up right after `running`), then a diagnosis.
 */
export async function openInstanceSsh(deps: ServerDeps, instanceId: number, opts: AccessOptions): Promise<Access> {
  const recent = opts.recentReadMs ? deps.vast.recentInstance?.(instanceId, opts.recentReadMs) : null;
  const inst = recent?.actual_status === 'running' ? recent : await deps.vast.requireInstance(instanceId);
  if (inst.actual_status !== 'running') {
    throw new VastMcpError(
      `Instance ${instanceId} is not running (${diagnose(inst, deps.now()).summary}) SSH is available only while it runs.`,
      'ssh_unavailable',
    );
  }
  // Connect first with our local key; the platform's key lists are read only when the instance refuses it
  // (an instance created before the key reached the account): three API reads saved on every later contact.
  const pair = await ensureKeyPair(deps.config.stateDir);
  let key: Awaited<ReturnType<typeof ensureKey>> | null = null;
  const urls = sshEndpoints(inst);
  const candidates: { url: string; ep: Endpoint }[] = [];
  if (urls.direct && !opts.preferProxy) candidates.push({ url: urls.direct, ep: parseUrl(urls.direct, 'direct') });
  if (urls.proxy) candidates.push({ url: urls.proxy, ep: parseUrl(urls.proxy, 'proxy') });
  if (urls.direct && opts.preferProxy) candidates.push({ url: urls.direct, ep: parseUrl(urls.direct, 'direct') });
  if (!candidates.length) throw new VastMcpError(`Instance ${instanceId} has no SSH endpoint (no port 22 mapping and no proxy).`, 'ssh_unavailable');
  const warnings: string[] = [];
  const pins = new HostKeyPins(deps.config.stateDir);
  let mismatch: { pinned: HostKeyPin; seen: string } | null = null;
  const verifyHostKey = (fingerprint: string): boolean => {
    const r = pins.check(deps.config.apiUrl, instanceId, fingerprint);
    if (r.ok) {
      if (r.pinnedNow) deps.logger.info({ instanceId, fingerprint }, 'pinned the SSH host key at first contact');
      return true;
    }
    mismatch = { pinned: r.pinned, seen: fingerprint };
    return false;
  };
  const deadline = deps.monotonicMs() + opts.readinessMs;
  let last: SshError | null = null;
  /** The instance as last read inside the retry loop (undefined: not read there, or the read failed). */
  let seen: Awaited<ReturnType<typeof deps.vast.getInstance>> | undefined;
  const stoppedMeanwhile = () => seen === null || (seen !== undefined && seen.actual_status !== 'running');
  let delay = 1000;
  retry: for (;;) {
    for (const c of candidates) {
      try {
        // The handshake deadline stays within the caller's readiness budget (at least 3 s to be fair to slow hosts).
        const readyTimeoutMs = Math.min(15_000, Math.max(3_000, deadline - deps.monotonicMs()));
        const session = await SshSession.connect(c.ep, pair.privateKey, { verifyHostKey, readyTimeoutMs });
        if (c.ep.kind === 'proxy' && urls.direct && !opts.preferProxy)
          warnings.push('Connected through the SSH proxy, which is throttled; the direct endpoint did not answer.');
        if (c.ep.kind === 'proxy' && !urls.direct)
          warnings.push('Only the SSH proxy is available (throttled, slow for bulk data): rent offers with direct ports for fast copies.');
        return { session, endpoint: c.ep, url: c.url, warnings };
      } catch (e) {
        last = e instanceof SshError ? e : new SshError(String(e), 'other');
        if (last.kind === 'host_key' && mismatch) throw hostKeyRefusal(deps, instanceId, c.url, mismatch);
        if (last.kind === 'auth' && key === null) {
          // Refused: is our key on the account and on this instance? Attach it when allowed, then try again at once.
          key = await ensureKey(deps, inst, opts.attachKey);
          if (key.attachedNow) {
            warnings.push('Our SSH key was not on this instance (account keys reach only instances created after them); it was attached now.');
            continue retry;
          }
        }
        if (last.kind === 'auth' && key?.onInstance === false) {
          throw new VastMcpError(
            `SSH to instance ${instanceId} was refused: our key is not on the instance (a key added to the account later does not reach existing instances). Call again with attach_key true (the default) to attach it.`,
            'ssh_key_missing',
          );
        }
      }
    }
    if (opts.signal?.aborted)
      throw new VastMcpError(`Connecting to instance ${instanceId} was cancelled by the client; nothing was run.`, 'cancelled');
    if (inst === recent) {
      // The read we used was a moment old: start again from a fresh one (it may not run any more, or
      // run elsewhere: a restart moves its ports), within what is left of the readiness budget.
      return openInstanceSsh(deps, instanceId, { ...opts, recentReadMs: undefined, readinessMs: Math.max(0, deadline - deps.monotonicMs()) });
    }
    if (deps.monotonicMs() + delay > deadline) break;
    // An instance that stopped (outbid, host offline, exited) since it was read will not answer: say so now
    // rather than after the whole readiness budget (a jobs pass waited 15 s here for an outbid instance).
    seen = await deps.vast.getInstance(instanceId).catch(() => undefined);
    if (stoppedMeanwhile()) break;
    await deps.sleep(delay);
    delay = Math.min(delay * 2, 10_000);
  }
  const now = stoppedMeanwhile() ? seen : await deps.vast.getInstance(instanceId);
  const why =
    now === null
      ? 'the instance no longer exists'
      : now && now.actual_status !== 'running'
        ? diagnose(now, deps.now()).summary
        : last?.kind === 'auth'
          ? 'the key was refused although it is attached'
          : last?.kind === 'refused'
            ? 'the SSH port is closed (sshd not up yet, or the host firewall)'
            : `the connection failed (${last?.message ?? 'unknown'})`;
  const within = stoppedMeanwhile() ? '' : ` within ${Math.round(opts.readinessMs / 1000)} s`;
  throw new VastMcpError(`Could not SSH into instance ${instanceId}${within}: ${why}.`, 'ssh_unavailable');
}
