import { packDriverVersion } from './gpu-catalog.js';
import type { Ask } from './marketplace.js';

export type OfferType = 'on-demand' | 'bid' | 'reserved';
export type OfferRow = Record<string, unknown> & { id: number };

const RESERVED_DISCOUNT = 0.3;
const HOURS_PER_MONTH = 720;

const r4 = (v: number): number => Math.round(v * 10000) / 10000;

/** An offer is listed while its machine has enough GPUs nobody holds (the caller's own rentals included). */
export function offerListed(ask: Ask, gpusHeldByUser: number): boolean {
  const m = ask.machine;
  return m.gpuTotal - m.gpusBusyByOthers - gpusHeldByUser >= ask.numGpus;
}

/** What the API returns for one ask, priced for `allocatedStorageGb` of disk (DOC search_offers.yaml; captured CLI rows in ../shared/references). */
export function renderOfferRow(ask: Ask, opts: { type: OfferType; allocatedStorageGb: number; gpusHeldByUser: number }): OfferRow {
  const m = ask.machine;
  const n = ask.numGpus;
  const isBid = opts.type === 'bid';
  const onDemand = r4(m.pricePerGpu * n);
  const minBid = r4(m.minBidPerGpu * n);
  const dphBase = isBid ? minBid : onDemand;
  const diskHour = (m.storageCost * opts.allocatedStorageGb) / HOURS_PER_MONTH;
  const dphTotal = dphBase + diskHour;
  const discounted = opts.type === 'reserved' ? dphTotal * (1 - RESERVED_DISCOUNT) : dphTotal;
  const dlperf = m.gpu.dlperf * n * (0.92 + (m.reliability - 0.6) * 0.15);
  const totalFlops = m.gpu.tflops * n;
  return {
    id: ask.id,
    ask_contract_id: ask.id,
    bundle_id: ask.id,
    machine_id: m.machineId,
    host_id: m.hostId,
    num_gpus: n,
    gpu_name: m.gpu.name,
    gpu_arch: m.gpu.arch,
    gpu_ram: m.gpu.ramMb,
    gpu_total_ram: m.gpu.ramMb * n,
    gpu_frac: n / m.gpuTotal,
    gpu_lanes: 16,
    gpu_mem_bw: m.gpu.memBw,
    gpu_max_power: m.gpu.maxPower,
    gpu_max_temp: 83,
    gpu_display_active: false,
    compute_cap: m.gpu.computeCap,
    cuda_max_good: m.cudaMaxGood,
    driver_version: m.driverVersion,
    driver_vers: packDriverVersion(m.driverVersion),
    cpu_name: m.cpuName,
    cpu_arch: 'amd64',
    cpu_cores: m.cpuCores,
    cpu_cores_effective: (m.cpuCores * n) / m.gpuTotal,
    cpu_ghz: m.cpuGhz,
    cpu_ram: Math.round((m.cpuRamMb * n) / m.gpuTotal),
    has_avx: 1,
    disk_space: Math.round((m.diskSpaceGb * n) / m.gpuTotal),
    disk_bw: m.diskBw,
    disk_name: 'nvme',
    inet_up: m.inetUp,
    inet_down: m.inetDown,
    inet_up_cost: m.inetUpCost,
    inet_down_cost: m.inetDownCost,
    internet_up_cost_per_tb: r4(m.inetUpCost * 1000),
    internet_down_cost_per_tb: r4(m.inetDownCost * 1000),
    direct_port_count: m.directPortCount,
    pci_gen: m.pciGen,
    pcie_bw: m.pcieBw,
    bw_nvlink: 0,
    mobo_name: 'ROMED8-2T',
    os_version: '22.04',
    ubuntu_version: '22.04',
    dph_base: dphBase,
    dph_total: dphTotal,
    discounted_dph_total: discounted,
    min_bid: minBid,
    dlperf,
    dlperf_per_dphtotal: dlperf / dphTotal,
    flops_per_dphtotal: totalFlops / dphTotal,
    total_flops: totalFlops,
    score: (dlperf / dphTotal) * m.reliability,
    storage_cost: m.storageCost,
    rentable: m.listed,
    // "include offers where the calling user already has rented GPUs" (DOC search_offers.yaml, rented):
    // about the caller's own rentals, never other tenants'.
    rented: opts.gpusHeldByUser > 0,
    is_bid: isBid,
    external: m.external,
    hosting_type: m.datacenter ? 1 : 0,
    datacenter: m.datacenter,
    static_ip: m.staticIp,
    vms_enabled: false,
    public_ipaddr: m.publicIp,
    geolocation: `${m.city}, ${m.cc}`,
    geolocode: m.cc,
    reliability: m.reliability,
    reliability2: m.reliability,
    verification: m.verified ? 'verified' : 'unverified',
    verified: m.verified,
    start_date: null,
    end_date: null,
    duration: m.durationSeconds,
    cluster_id: m.clusterId,
    search: {
      gpuCostPerHour: dphBase,
      diskHour,
      totalHour: dphTotal,
      discountTotalHour: dphTotal - discounted,
      discountedTotalPerHour: discounted,
    },
  };
}
