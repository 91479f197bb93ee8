import { describe, expect, it } from 'vitest';
import { diagnose } from '../../server/vast/diagnosis.js';
import { sshEndpoints } from '../../server/vast/instance-view.js';
import { buildOfferSearch } from '../../server/vast/offer-search.js';
import { diskPerHour, instanceBurnPerHour, projectOfferCost } from '../../server/vast/pricing.js';
import type { Instance, Offer } from '../../server/vast/schemas.js';

const offer = {
  id: 1,
  machine_id: 2,
  num_gpus: 1,
  gpu_name: 'RTX 4090',
  dph_base: 0.4,
  dph_total: 0.4 + (0.15 * 64) / 720,
  storage_cost: 0.15,
} as Offer;
const inst = (over: Partial<Instance>): Instance =>
  ({ id: 9, storage_cost: 0.2, disk_space: 72, dph_base: 0.5, dph_total: 0.52, start_date: 1000, ...over }) as Instance;

describe('pricing', () => {
  it('prices disk per GB-month over 720 hours', () => {
    expect(diskPerHour(0.15, 64)).toBeCloseTo(0.013333, 6);
  });

  it('projects GPU plus disk over the hours', () => {
    const p = projectOfferCost(offer, 64, 10);
    expect(p.gpu_per_hour).toBe(0.4);
    expect(p.disk_per_hour).toBeCloseTo(0.0133, 4);
    expect(p.projected_total).toBeCloseTo(4.13, 2);
  });

  it('bills only disk when not running, GPU plus disk when running', () => {
    expect(instanceBurnPerHour(inst({ actual_status: 'stopped' }))).toEqual({ total: 0.02, gpu: 0, disk: 0.02 });
    expect(instanceBurnPerHour(inst({ actual_status: 'running' }))).toEqual({ total: 0.52, gpu: 0.5, disk: 0.02 });
    expect(instanceBurnPerHour(inst({ actual_status: 'loading' })).gpu).toBe(0);
    // "frozen: GPU charges apply" (DOC cli/reference/show-instance.mdx)
    expect(instanceBurnPerHour(inst({ actual_status: 'frozen' })).gpu).toBe(0.5);
  });
});

describe('diagnosis', () => {
  it.each([
    [{ actual_status: 'running', intended_status: 'running' }, 'running'],
    [{ actual_status: 'stopped', intended_status: 'stopped' }, 'stopped_billing_disk'],
    [{ actual_status: 'stopped', intended_status: 'running', status_msg: 'Scheduling: waiting for the GPU(s)' }, 'scheduling'],
    [{ actual_status: 'offline', intended_status: 'running' }, 'offline'],
    [{ actual_status: 'stopped', intended_status: 'running', is_bid: true, status_msg: 'Outbid: paused' }, 'outbid'],
    [{ actual_status: 'exited', intended_status: 'running' }, 'exited'],
    [{ actual_status: 'loading', intended_status: 'running' }, 'loading'],
    [{ actual_status: null, intended_status: 'running' }, 'provisioning'],
    [{ actual_status: 'stopped', intended_status: 'stopped', cur_state: 'stopped', next_state: 'stopped', is_bid: true }, 'interrupted'],
    [{ actual_status: 'created', intended_status: 'running', status_msg: 'OCI runtime create failed' }, 'start_failed'],
    [{ actual_status: 'loading', intended_status: 'running', status_msg: 'manifest unknown' }, 'pull_failed'],
    [{ actual_status: 'unknown', intended_status: 'running' }, 'no_heartbeat'],
    [{ actual_status: 'frozen', intended_status: 'running' }, 'frozen'],
    [{ actual_status: 'recycling', intended_status: 'running' }, 'recycling'],
    [{ actual_status: 'stopped', intended_status: 'stopped', end_date: 1050 }, 'expired'],
    [{ actual_status: 'weird', intended_status: 'running' }, 'unknown'],
  ])('%o → %s', (over, code) => {
    expect(diagnose(inst(over as Partial<Instance>), 1100).code).toBe(code);
  });

  it('calls a long image pull slow and says what to do', () => {
    const d = diagnose(inst({ actual_status: 'loading', intended_status: 'running' }), 1000 + 3600);
    expect(d.code).toBe('loading_slow');
    expect(d.summary).toMatch(/60 min/);
  });

  it('tells that a stopped instance still bills its disk, with the rate', () => {
    expect(diagnose(inst({ actual_status: 'stopped', intended_status: 'stopped' }), 2000).summary).toMatch(
      /still billing disk at \$0\.0200\/h.*Only destroy stops the meter/,
    );
  });
});

describe('ssh endpoints', () => {
  it('prefers direct when port 22 is mapped, and shifts the proxy port for jupyter', () => {
    const e = sshEndpoints(
      inst({
        ports: { '22/tcp': [{ HostIp: '0.0.0.0', HostPort: '40022' }] },
        public_ipaddr: '1.2.3.4',
        ssh_host: 'ssh5.vast.ai',
        ssh_port: 100,
        image_runtype: 'jupyter_direc ssh_proxy',
      }),
    );
    expect(e).toEqual({ direct: 'ssh://root@1.2.3.4:40022', proxy: 'ssh://root@ssh5.vast.ai:101' });
  });
});

describe('offer search building', () => {
  it('lets structured filters override the query text and lists the defaults applied', () => {
    const s = buildOfferSearch({
      query: 'gpu_name=RTX_3090 num_gpus>=2',
      gpu_name: 'RTX_4090',
      max_dph: 0.5,
      geolocation: ['us'],
      interruptible: true,
      min_gpu_ram_gb: 24,
    });
    expect(s.body.gpu_name).toEqual({ eq: 'RTX 4090' });
    expect(s.body.num_gpus).toEqual({ gte: '2' });
    expect(s.body.dph_total).toEqual({ lte: 0.5 });
    expect(s.body.geolocation).toEqual({ in: ['US'] });
    expect(s.body.gpu_ram).toEqual({ gte: 24000 });
    expect(s.body.type).toBe('bid');
    expect(s.body.allocated_storage).toBe(64);
    expect(s.defaultsApplied.join(' ')).toMatch(/disk_gb=64.*hours=24.*sort=price.*limit=10/);
    expect(s.defaultsApplied.join(' ')).toMatch(/rented=false/);
  });

  it('drops the verified default when asked, and does not call an explicit text filter a default', () => {
    const s = buildOfferSearch({ verified_only: false, query: 'rented=any', disk_gb: 10 });
    expect(s.body).not.toHaveProperty('verified');
    expect(s.body).not.toHaveProperty('rented');
    expect(s.defaultsApplied.join(' ')).not.toMatch(/disk_gb/);
  });
});
