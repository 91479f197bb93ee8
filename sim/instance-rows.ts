import { packDriverVersion } from './gpu-catalog.js';
import type { SimInstance } from './types.js';

export interface RowContext {
  now: number;
  sshHost: string;
  publicHost: string;
  /** Odd but plausible shapes (numeric strings, padded strings, null port entries): the client must read them. */
  oddShapes?: boolean;
  /** `ports` of an instance that is not running: `{}` (default) or null (the old sim's reading; see fidelity.ts). */
  portsWhenDown?: 'empty_object' | 'null';
}

function portMappings(inst: SimInstance, down: RowContext['portsWhenDown']): Record<string, { HostIp: string; HostPort: string }[]> | null {
  if (inst.actual !== 'running') return down === 'null' ? null : {};
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  if (inst.directSshPort !== null) ports['22/tcp'] = [{ HostIp: '0.0.0.0', HostPort: String(inst.directSshPort) }];
  let offset = 1;
  for (const key of Object.keys(inst.env)) {
    const m = /^-p (\d+)(?::(\d+))?(?:\/(tcp|udp))?$/.exec(key);
    if (!m) continue;
    const internal = m[2] ?? m[1];
    const proto = m[3] ?? 'tcp';
    // Internal ports map to random external ports, as on the platform.
    ports[`${internal}/${proto}`] = [{ HostIp: '0.0.0.0', HostPort: String(30000 + ((inst.id * 7 + offset * 131) % 30000)) }];
    offset++;
  }
  return ports;
}

/**
 * The instance as `GET /instances/` returns it (numeric start_date, extra_env as pairs, string
 * HostPorts). Sources: DOC show_instance.yaml (fields, example), vast.py 4875-4884 (ports map),
 * 5706-5769 (show instance). With `oddShapes`, the variants the sources disagree on (audit §4.11).
 */
export function renderInstanceRow(inst: SimInstance, ctx: RowContext): Record<string, unknown> {
  const row = renderCleanRow(inst, ctx);
  if (!ctx.oddShapes) return row;
  const ports = row.ports as Record<string, unknown[]> | null;
  return {
    ...row,
    ssh_port: String(row.ssh_port),
    public_ipaddr: ` ${String(row.public_ipaddr)}\n`,
    ports: ports ? { ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, [null, ...v]])), '9999/udp': null } : ports,
    start_date: String(row.start_date),
  };
}

function renderCleanRow(inst: SimInstance, ctx: RowContext): Record<string, unknown> {
  const m = inst.ask.machine;
  const runtype = [...inst.runtype].map((t) => t.replace(/_direct$/, '_direc')).join(' ');
  const dphBase = inst.gpuRate;
  const running = inst.actual === 'running';
  return {
    id: inst.id,
    machine_id: m.machineId,
    host_id: m.hostId,
    bundle_id: inst.ask.id,
    actual_status: inst.actual,
    intended_status: inst.intended,
    cur_state: inst.intended === 'running' && inst.holdsGpus ? 'running' : 'stopped',
    next_state: inst.intended,
    status_msg: inst.statusMsg,
    label: inst.label,
    template_id: null,
    template_hash_id: null,
    template_name: null,
    image_uuid: inst.image,
    image_args: [],
    image_runtype: runtype,
    onstart: inst.onstart,
    extra_env: Object.entries(inst.env).map(([k, v]) => [k, v]),
    jupyter_token: null,
    ssh_host: ctx.sshHost,
    ssh_port: inst.sshPort,
    ssh_idx: '1',
    public_ipaddr: ctx.publicHost,
    ports: portMappings(inst, ctx.portsWhenDown),
    direct_port_count: inst.directSshPort !== null ? m.directPortCount : 0,
    direct_port_start: inst.directSshPort !== null ? inst.directSshPort : -1,
    direct_port_end: inst.directSshPort !== null ? inst.directSshPort + Math.max(0, m.directPortCount - 1) : -1,
    start_date: inst.createdAt,
    end_date: inst.endDate,
    uptime_mins: inst.runningSince !== null ? (ctx.now - inst.runningSince) / 60 : null,
    duration: inst.endDate !== null ? inst.endDate - inst.createdAt : m.durationSeconds,
    num_gpus: inst.numGpus,
    gpu_name: m.gpu.name,
    gpu_ram: m.gpu.ramMb,
    gpu_totalram: m.gpu.ramMb * inst.numGpus,
    gpu_util: running ? 0 : null,
    gpu_temp: running ? 38 : null,
    gpu_arch: m.gpu.arch,
    compute_cap: m.gpu.computeCap,
    cuda_max_good: m.cudaMaxGood,
    driver_version: m.driverVersion,
    driver_vers: packDriverVersion(m.driverVersion),
    cpu_name: m.cpuName,
    cpu_cores: m.cpuCores,
    cpu_cores_effective: (m.cpuCores * inst.numGpus) / m.gpuTotal,
    cpu_ram: Math.round((m.cpuRamMb * inst.numGpus) / m.gpuTotal),
    cpu_util: running ? 0.01 : null,
    mem_usage: running ? 0.5 : null,
    mem_limit: null,
    disk_space: inst.diskGb,
    disk_usage: running ? 0.1 : null,
    disk_util: running ? 0.1 / inst.diskGb : null,
    inet_up: m.inetUp,
    inet_down: m.inetDown,
    inet_up_billed: inst.bytesUp / 1e6,
    inet_down_billed: inst.bytesDown / 1e6,
    dph_base: dphBase,
    dph_total: dphBase + inst.diskRate,
    storage_cost: m.storageCost,
    storage_total_cost: inst.diskRate,
    inet_up_cost: m.inetUpCost,
    inet_down_cost: m.inetDownCost,
    min_bid: m.minBidPerGpu * inst.numGpus,
    is_bid: inst.isBid,
    reliability2: m.reliability,
    verification: m.verified ? 'verified' : 'unverified',
    geolocation: `${m.city}, ${m.cc}`,
    cluster_id: m.clusterId,
    volume_info: [],
    extra: inst.extra,
  };
}
