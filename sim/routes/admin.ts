import { existsSync } from 'node:fs';
import { SimHttpError } from '../http-error.js';
import { ok, type SimRequest } from '../http-router.js';
import type { FaultPlan, FaultRule } from '../faults.js';
import type { RequestRecord } from '../request-log.js';
import type { ActualStatus } from '../types.js';
import { bodyObject, type RouteContext } from './context.js';
import { hostRestart, interrupt } from '../interruptions.js';
import { pullErrorMessage } from '../image-pull.js';

/**
 * Instance faults. Shapes: `created` + OCI error (dstack compute.py 204-207); `unknown` = no heartbeat,
 * `frozen` = GPU still billed (DOC cli/reference/show-instance.mdx:24-40); pull errors as the host
 * words them (vastai runtime_diagnostics.py 246-255).
 */
const INSTANCE_FAULTS: Record<string, { actual: ActualStatus; msg: (image: string) => string; releasesGpus?: boolean }> = {
  offline: { actual: 'offline', msg: () => 'Host offline' },
  exited: { actual: 'exited', msg: () => 'Container exited with code 1' },
  stuck_loading: { actual: 'loading', msg: (image) => `Pulling image ${image}` },
  created_error: {
    actual: 'created',
    msg: () =>
      'Error response from daemon: failed to create task for container: OCI runtime create failed: runc create failed: unable to start container process',
  },
  pull_failed: { actual: 'created', msg: (image) => pullErrorMessage(`${image.split(':')[0]}-does-not-exist`) },
  unknown: { actual: 'unknown', msg: () => '' },
  frozen: { actual: 'frozen', msg: () => '' },
};
/** Interruption faults: `outbid` per the fidelity option; `outbid_resumable` / `outbid_stopped` force one reading. */
const OUTBID_FAULTS = new Set(['outbid', 'outbid_resumable', 'outbid_stopped']);

/** `/_sim/…`: not part of the Vast API; lets tests move the clock, inspect ground truth and inject faults. */
export function registerAdminRoutes(ctx: RouteContext, requests: RequestRecord[], faults: FaultPlan): void {
  const { router, world } = ctx;
  const opts = { auth: false };

  router.add(
    'GET',
    '/_sim/state',
    () =>
      ok({
        now: world.now(),
        account: {
          credit: world.account.credit,
          username: world.account.username,
          email: world.account.email,
          deletion_scheduled_at: world.account.deletionScheduledAt,
          ssh_keys: world.account.sshKeys.length,
        },
        instances: [...world.instances.values()].map((i) => ({
          id: i.id,
          ask_id: i.ask.id,
          machine_id: i.ask.machine.machineId,
          label: i.label,
          extra: i.extra,
          actual_status: i.actual,
          intended_status: i.intended,
          destroyed: i.destroyedAt !== null,
          files_present: ctx.ssh ? existsSync(ctx.ssh.sandbox.rootOf(i.id)) : null,
          bytes_up: i.bytesUp,
          bytes_down: i.bytesDown,
          costs: i.costs,
          gpu_rate: i.gpuRate,
          disk_rate: i.diskRate,
          onstart: i.onstart,
          env: i.env,
        })),
        faults_fired: faults.fired,
      }),
    opts,
  );
  router.add(
    'POST',
    '/_sim/advance',
    (req: SimRequest) => {
      const seconds = Number(bodyObject(req.body).seconds);
      if (!Number.isFinite(seconds) || seconds < 0) throw new SimHttpError(400, 'invalid_args', 'seconds must be a non-negative number');
      world.clock.advance(seconds);
      world.tick();
      return ok({ success: true, now: world.now() });
    },
    opts,
  );
  router.add('GET', '/_sim/requests', () => ok({ requests }), opts);
  router.add('GET', '/_sim/unexpected', () => ok({ unexpected: requests.filter((r) => r.unexpected) }), opts);
  router.add(
    'DELETE',
    '/_sim/requests',
    () => {
      requests.length = 0;
      return ok();
    },
    opts,
  );
  router.add(
    'POST',
    '/_sim/account',
    (req: SimRequest) => {
      const b = bodyObject(req.body);
      const a = world.account;
      if ('username' in b) a.username = b.username as string;
      if ('email' in b) a.email = b.email as string;
      if ('fullname' in b) a.fullname = b.fullname as string;
      if ('credit' in b) a.credit = Number(b.credit);
      if ('card_on_file' in b) a.cardOnFile = Boolean(b.card_on_file);
      return ok();
    },
    opts,
  );
  router.add(
    'POST',
    '/_sim/machines/:id',
    (req: SimRequest) => {
      const m = world.market.machines.find((x) => x.machineId === Number(req.params.id));
      if (!m) throw new SimHttpError(404, 'not_found', `machine ${req.params.id} not found`);
      const b = bodyObject(req.body);
      if ('gpus_busy_by_others' in b) m.gpusBusyByOthers = Number(b.gpus_busy_by_others);
      if ('listed' in b) m.listed = Boolean(b.listed);
      world.reschedule();
      return ok();
    },
    opts,
  );
  router.add(
    'POST',
    '/_sim/faults',
    (req: SimRequest) => {
      const b = bodyObject(req.body) as unknown as FaultRule;
      try {
        faults.add({ ...b, count: b.count ?? 1 });
      } catch (e) {
        throw new SimHttpError(400, 'invalid_args', (e as Error).message);
      }
      return ok();
    },
    opts,
  );
  router.add(
    'POST',
    '/_sim/ssh-faults',
    (req: SimRequest) => {
      if (!ctx.ssh) throw new SimHttpError(400, 'invalid_args', 'SSH is disabled in this simulator');
      const b = bodyObject(req.body);
      if ('reset_after_bytes' in b) ctx.ssh.faults.resetAfterBytes = b.reset_after_bytes === null ? null : Number(b.reset_after_bytes);
      if ('flip_byte_at' in b) ctx.ssh.faults.flipByteAt = b.flip_byte_at === null ? null : Number(b.flip_byte_at);
      return ok();
    },
    opts,
  );
  // Instance-level faults: the platform misbehaving for one instance.
  router.add(
    'POST',
    '/_sim/instances/:id/fault',
    (req: SimRequest) => {
      const inst = world.instances.get(Number(req.params.id));
      if (!inst || inst.destroyedAt !== null) throw new SimHttpError(404, 'not_found', 'no such live instance');
      const kind = String(bodyObject(req.body).kind);
      if (OUTBID_FAULTS.has(kind)) {
        const saved = world.fidelity.outbidShape;
        if (kind !== 'outbid') world.fidelity.outbidShape = kind === 'outbid_resumable' ? 'intended_running' : 'intended_stopped';
        try {
          interrupt(world, inst);
        } finally {
          world.fidelity.outbidShape = saved;
        }
        return ok();
      }
      if (kind === 'host_restart') {
        // The host restarts the container by itself: exited now, running again shortly, uptime from 0.
        if (!hostRestart(world, inst)) throw new SimHttpError(409, 'invalid_args', 'host_restart needs a running instance');
        return ok();
      }
      if (kind === 'expire') {
        // The rental contract ends now (DOC faq/instances.mdx:13); the next tick stops it.
        inst.endDate = world.now();
        world.tick();
        return ok();
      }
      const fault = INSTANCE_FAULTS[kind];
      if (!fault)
        throw new SimHttpError(
          400,
          'invalid_args',
          `kind must be one of ${[...OUTBID_FAULTS, 'expire', 'host_restart', ...Object.keys(INSTANCE_FAULTS)].join(', ')}`,
        );
      world.accrue(inst, world.now());
      inst.actual = fault.actual;
      inst.runningSince = null;
      inst.statusMsg = fault.msg(inst.image);
      inst.pending = null;
      if (fault.releasesGpus) inst.holdsGpus = false;
      // SSH and running commands end, as they would on the host.
      world.events.emit('stopped', inst);
      inst.phaseEndsAt = null;
      return ok();
    },
    opts,
  );
  router.add(
    'DELETE',
    '/_sim/faults',
    () => {
      faults.clear();
      return ok();
    },
    opts,
  );
}
