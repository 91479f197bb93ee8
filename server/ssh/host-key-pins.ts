import { join } from 'node:path';
import { appendJsonLine, readJsonLines } from '../state/jsonl-file.js';

/** One pinned host key: the first key an instance's sshd showed us, per platform endpoint. */
export interface HostKeyPin {
  type: 'host_key_pin';
  /** The platform API the instance belongs to (a simulator's ids must never match a real instance's). */
  platform: string;
  instance_id: number;
  fingerprint: string;
  /** Epoch ms of first contact. */
  at: number;
}

export type PinCheck = { ok: true; pinnedNow: boolean } | { ok: false; pinned: HostKeyPin };

/**
 * Trust on first use, per (platform endpoint, instance): the first host key is recorded in the state
 * directory (append-only JSONL, so two processes cannot lose each other's pins; the first record
 * wins), and a different key later is refused. An impostor on the SSH port cannot then serve a
 * forged "verified" copy.
 */
export class HostKeyPins {
  readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'host-keys.jsonl');
  }

  pinned(platform: string, instanceId: number): HostKeyPin | null {
    return (
      readJsonLines<HostKeyPin>(this.path).find((p) => p.type === 'host_key_pin' && p.platform === platform && p.instance_id === instanceId) ?? null
    );
  }

  /** Accepts and pins a first key; accepts the pinned key; refuses any other. */
  check(platform: string, instanceId: number, fingerprint: string, nowMs = Date.now()): PinCheck {
    const existing = this.pinned(platform, instanceId);
    if (existing) return existing.fingerprint === fingerprint ? { ok: true, pinnedNow: false } : { ok: false, pinned: existing };
    appendJsonLine(this.path, { type: 'host_key_pin', platform, instance_id: instanceId, fingerprint, at: nowMs } satisfies HostKeyPin);
    // Another process may have pinned a different key at the same moment: the first record wins.
    const winner = this.pinned(platform, instanceId)!;
    return winner.fingerprint === fingerprint ? { ok: true, pinnedNow: true } : { ok: false, pinned: winner };
  }
}
