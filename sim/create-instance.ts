import { hashSeed } from './rng.js';
import { SimHttpError } from './http-error.js';
import { PROVISION_SECONDS, type SimWorld } from './world.js';
import type { SimInstance } from './types.js';
import { outbidFor } from './interruptions.js';

/** A refused create that still left an instance: the error body carries `new_contract` (dstack api_client.py 18-22, 97-100). */
export class CreateRefusedWithContract extends SimHttpError {
  constructor(
    status: number,
    code: string,
    msg: string,
    readonly newContract: number,
  ) {
    super(status, code, msg);
  }
}

const MAX_ONSTART = 16 * 1024;
const PORT_FLAG = /^-p (\d+)(?::(\d+))?(\/(tcp|udp))?$/;

function fail(status: number, code: string, msg: string): never {
  throw new SimHttpError(status, code, msg);
}

function runtypeTokens(runtype: unknown): Set<string> {
  const text = typeof runtype === 'string' && runtype.trim() ? runtype : 'ssh';
  // The CLI sends the truncated spelling `ssh_direc`; docs use `ssh_direct`. Same thing.
  return new Set(
    text
      .split(/\s+/)
      .filter(Boolean)
      .map((t) => t.replace(/_direc$/, '_direct')),
  );
}

function parseEnv(env: unknown): Record<string, string> {
  if (env === undefined || env === null) return {};
  if (typeof env !== 'object' || Array.isArray(env)) fail(400, 'invalid_args', 'env must be an object of name → value');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
    if (k.startsWith('-p ') && !PORT_FLAG.test(k))
      fail(400, 'invalid_args', `invalid port mapping ${JSON.stringify(k)}: use "-p 8080:8080" (digits, ':' and /tcp or /udp only)`);
    out[k] = String(v);
  }
  return out;
}

function imagePullSeconds(image: string): number {
  const big = /pytorch|tensorflow|cuda|nvidia|vllm|comfy/i.test(image);
  return (big ? 90 : 30) + (hashSeed(image) % (big ? 120 : 40));
}

/** `PUT /api/v0/asks/{id}/`: validates the body like the API and rents the ask. */
export function createInstance(world: SimWorld, askId: number, body: Record<string, unknown>): SimInstance {
  const ask = world.market.byId.get(askId);
  // DOC create_instance.yaml:221-265: the 404 carries error "invalid_args", no_such_ask only in msg.
  if (!ask) fail(404, 'invalid_args', `error 404/3603: no_such_ask  Instance type by id ${askId} is not available.`);
  const image = body.image;
  if (body.template_hash_id == null && (typeof image !== 'string' || image.trim() === ''))
    fail(400, 'invalid_args', 'image is required (or template_hash_id)');
  const imageName = typeof image === 'string' && image ? image : `template:${String(body.template_hash_id)}`;
  if (imageName.length > 1024) fail(400, 'invalid_args', 'image name is longer than 1024 characters');
  const label = body.label ?? null;
  if (label !== null && typeof label !== 'string') fail(400, 'invalid_args', 'label must be a string');
  if (typeof label === 'string' && label.length > 256) fail(400, 'label_too_long', 'label is longer than 256 characters');
  const disk = body.disk === undefined || body.disk === null ? 10 : Number(body.disk);
  if (!Number.isFinite(disk) || disk < 8) fail(400, 'invalid_args', 'disk must be at least 8 GB');
  const rowDisk = Math.round((ask.machine.diskSpaceGb * ask.numGpus) / ask.machine.gpuTotal);
  if (disk > rowDisk) fail(400, 'invalid_args', `disk ${disk} GB exceeds the ${rowDisk} GB this offer has`);
  const onstart = body.onstart ?? null;
  if (onstart !== null && typeof onstart !== 'string') fail(400, 'invalid_args', 'onstart must be a string');
  if (typeof onstart === 'string' && onstart.length > MAX_ONSTART)
    fail(400, 'invalid_args', `onstart is longer than ${MAX_ONSTART} characters; gzip and base64-encode it`);
  const env = parseEnv(body.env);
  const price = body.price ?? null;
  const isBid = price !== null;
  const onDemand = ask.machine.pricePerGpu * ask.numGpus;
  const minBid = ask.machine.minBidPerGpu * ask.numGpus;
  // cancel_unavail "Defaults to false for interruptibles" (DOC create_instance.yaml:98).
  const cancelUnavail = body.cancel_unavail === undefined || body.cancel_unavail === null ? !isBid : body.cancel_unavail === true;
  let bidTooLow = false;
  if (isBid) {
    const p = Number(price);
    if (!Number.isFinite(p) || p < 0.001 || p > 128) fail(400, 'invalid_price', 'Please set a bid price between 0.001 and 128 $/hour.');
    if (p < minBid) {
      // Open question (audit §4.4): with cancel_unavail the sim refuses outright; without it, it
      // creates the instance stopped and answers an error carrying new_contract (dstack, 01becced9).
      if (cancelUnavail || !world.fidelity.organicOutbids)
        fail(400, 'invalid_price', `Bid price ${p} is below the current minimum bid ${minBid.toFixed(4)} $/hour for this offer.`);
      bidTooLow = true;
    }
  }
  const gpuRate = isBid ? Number(price) : onDemand;
  const diskRate = (ask.machine.storageCost * disk) / 720;
  // A create-time credit check is undocumented (audit §4.17; only prepay documents 411): by default
  // the create goes through and the balance rule stops everything at $0; '411' is the old reading.
  if (world.fidelity.createCreditCheck === '411' && world.account.credit < gpuRate + diskRate) {
    fail(
      411,
      'insufficient_credit',
      `Insufficient credit: balance $${world.account.credit.toFixed(2)} does not cover one hour ($${(gpuRate + diskRate).toFixed(4)}). Add credit first.`,
    );
  }
  // An on-demand rental or a higher bid takes the GPUs from lower bids (DOC instance-types.mdx:76-78).
  if (!bidTooLow && !world.askAvailable(ask) && world.fidelity.organicOutbids) outbidFor(world, ask, isBid ? Number(price) : null);
  const available = !bidTooLow && world.askAvailable(ask);
  if (!available && !bidTooLow && cancelUnavail) {
    // DOC create_instance.yaml:221-265: 410 `no_such_ask`, "error 410/3907".
    fail(410, 'no_such_ask', `error 410/3907: no_such_ask  Instance type by id ${askId} is no longer available.`);
  }
  const runtype = runtypeTokens(body.runtype);
  const now = world.now();
  const wantsDirect = [...runtype].some((t) => t.endsWith('_direct'));
  const inst: SimInstance = {
    id: world.newInstanceId(),
    ask,
    numGpus: ask.numGpus,
    image: imageName,
    env,
    onstart: typeof onstart === 'string' ? onstart : null,
    label: typeof label === 'string' ? label : null,
    extra: body.extra ?? null,
    runtype,
    diskGb: disk,
    isBid,
    gpuRate,
    diskRate,
    createdAt: now,
    actual: null,
    intended: 'running',
    statusMsg: 'Provisioning instance',
    phaseEndsAt: now + PROVISION_SECONDS,
    runningSince: null,
    holdsGpus: available,
    destroyedAt: null,
    sshPort: world.allocatePort(),
    directSshPort: wantsDirect && ask.machine.directPortCount > 0 ? world.allocatePort() : null,
    instanceApiKey: world.newSecret(),
    sshKeys: world.account.sshKeys.map((k) => ({ ...k })),
    logLines: [],
    costs: { gpu: 0, disk: 0, bwu: 0, bwd: 0 },
    bytesUp: 0,
    bytesDown: 0,
    lastAccrual: now,
    imagePullSeconds: imagePullSeconds(imageName),
    endDate: world.fidelity.rentalExpiry ? now + ask.machine.durationSeconds : null,
    pending: null,
    deleteAt: null,
  };
  if (bidTooLow) {
    inst.actual = 'stopped';
    inst.intended = 'stopped';
    inst.phaseEndsAt = null;
    inst.statusMsg = '';
    world.instances.set(inst.id, inst);
    world.log(inst, `instance ${inst.id} created stopped from offer ${askId}: bid below the minimum`);
    throw new CreateRefusedWithContract(
      400,
      'invalid_price',
      `Bid price ${Number(price)} is below the current minimum bid ${minBid.toFixed(4)} $/hour for this offer; the instance was created stopped.`,
      inst.id,
    );
  } else if (!available) {
    inst.actual = 'stopped';
    inst.phaseEndsAt = null;
    inst.statusMsg = 'Scheduling: waiting for the GPU(s) on this machine to become free';
  }
  world.instances.set(inst.id, inst);
  world.log(inst, `instance ${inst.id} created from offer ${askId} (${ask.numGpus}x ${ask.machine.gpu.name})`);
  return inst;
}
