import type { Ask } from './marketplace.js';

/** DOC cli/reference/show-instance.mdx:24-40 (+ `created`, vastai/SKILL.md:137; `recycling`, recycle_instance.yaml:14-15). */
export type ActualStatus =
  | null
  | 'created'
  | 'loading'
  | 'running'
  | 'stopped'
  | 'exited'
  | 'offline'
  | 'rebooting'
  | 'unknown'
  | 'frozen'
  | 'recycling';

export interface SshKeyRecord {
  id: number;
  publicKey: string;
  createdAt: number;
}

export interface SimAccount {
  id: number;
  username: string;
  email: string;
  fullname: string;
  apiKey: string;
  credit: number;
  sshKeys: SshKeyRecord[];
  /** Set when the balance ran out: instances were stopped and will be deleted at this time. */
  deletionScheduledAt: number | null;
  /**
   * A saved credit card: at $0 it is "periodically and automatically charged to cover any negative
   * balance", which "protects your instances from being deleted" (DOC guides/reference/billing.mdx,
   * Negative Balances). Without one, stopped instances are destroyed after a grace.
   */
  cardOnFile: boolean;
  /** When the card is charged next while the balance is negative (epoch s), or null. */
  nextCardChargeAt?: number | null;
}

export interface InstanceCosts {
  gpu: number;
  disk: number;
  bwu: number;
  bwd: number;
}

export interface SimInstance {
  id: number;
  ask: Ask;
  numGpus: number;
  image: string;
  env: Record<string, string>;
  onstart: string | null;
  label: string | null;
  extra: unknown;
  runtype: Set<string>;
  diskGb: number;
  isBid: boolean;
  /** GPU price per hour: the on-demand price or the bid. */
  gpuRate: number;
  /** Disk price per hour (storage_cost × GB / 720). */
  diskRate: number;
  createdAt: number;
  actual: ActualStatus;
  intended: 'running' | 'stopped';
  statusMsg: string;
  /** When the current phase ends (provisioning → loading → running), or null. */
  phaseEndsAt: number | null;
  runningSince: number | null;
  /** Every time the container came up (sim epoch s), kept after stops: ground truth for "last start". */
  starts?: number[];
  /** When the host restarted the container by itself (sim epoch s): its disk may change from then on. */
  hostRestarts?: number[];
  holdsGpus: boolean;
  destroyedAt: number | null;
  sshPort: number;
  directSshPort: number | null;
  instanceApiKey: string;
  sshKeys: SshKeyRecord[];
  logLines: string[];
  costs: InstanceCosts;
  bytesUp: number;
  bytesDown: number;
  lastAccrual: number;
  imagePullSeconds: number;
  /** Rental end (epoch s): the offer's max duration from creation (DOC show_instance.yaml 196-209). */
  endDate: number | null;
  /** A stop or start asked for but not yet visible in actual_status (platform converges asynchronously). */
  pending: { to: 'stopped' | 'running'; at: number; msg: string } | null;
  /** Set when a rental expired: the platform may delete the instance at this time. */
  deleteAt: number | null;
  /** A status message that shows only later (the cloud-copy status bar is "~30 seconds delayed", vast.py 1865). */
  delayedStatus?: { at: number; msg: string } | null;
}
