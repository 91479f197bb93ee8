import { DRIVERS, GPU_CATALOG, REGIONS, packDriverVersion, type GpuModel } from './gpu-catalog.js';
import { createRng, type Rng } from './rng.js';

/** A host machine in the simulated marketplace. Prices are per GPU. */
export interface Machine {
  machineId: number;
  hostId: number;
  gpu: GpuModel;
  gpuTotal: number;
  /** GPUs occupied by other (simulated) tenants. */
  gpusBusyByOthers: number;
  pricePerGpu: number;
  minBidPerGpu: number;
  storageCost: number;
  inetUpCost: number;
  inetDownCost: number;
  inetUp: number;
  inetDown: number;
  reliability: number;
  verified: boolean;
  listed: boolean;
  datacenter: boolean;
  staticIp: boolean;
  directPortCount: number;
  city: string;
  cc: string;
  driverVersion: string;
  cudaMaxGood: number;
  clusterId: number | null;
  cpuCores: number;
  cpuRamMb: number;
  cpuName: string;
  cpuGhz: number;
  diskSpaceGb: number;
  diskBw: number;
  pcieBw: number;
  pciGen: number;
  publicIp: string;
  durationSeconds: number;
  external: boolean;
}

export interface Ask {
  id: number;
  machine: Machine;
  numGpus: number;
}

export interface Marketplace {
  machines: Machine[];
  asks: Ask[];
  byId: Map<number, Ask>;
}

const CPU_NAMES = [
  'AMD EPYC 7763 64-Core',
  'AMD EPYC 9554 64-Core',
  'Intel Xeon Gold 6338',
  'AMD Ryzen 9 7950X',
  'Intel Core i9-13900K',
  'AMD Ryzen Threadripper PRO 5975WX',
];

const round = (v: number, digits: number): number => Number(v.toFixed(digits));

function makeMachine(rng: Rng, index: number): Machine {
  const gpu = rng.weighted(GPU_CATALOG.map((g) => ({ weight: g.weight, value: g })));
  const gpuTotal = rng.pick(gpu.counts);
  const region = rng.weighted(REGIONS.map((r) => ({ weight: r.weight, value: r })));
  const datacenter = rng.chance(gpu.datacenterShare);
  const driver = rng.pick(DRIVERS);
  const pricePerGpu = round(rng.range(gpu.priceMin, gpu.priceMax), 4);
  const verified = rng.chance(datacenter ? 0.95 : 0.8);
  const reliability = round(verified ? rng.range(0.9, 0.9995) : rng.range(0.6, 0.98), 4);
  const directPortCount = rng.chance(0.85) ? rng.pick([4, 8, 16, 32, 64, 100, 200, 500, 1000]) : 0;
  const machineId = 10000 + index * 7 + rng.int(0, 6);
  return {
    machineId,
    hostId: 100000 + Math.floor(index / 3) * 11 + rng.int(0, 10),
    gpu,
    gpuTotal,
    gpusBusyByOthers: rng.chance(0.12) ? gpuTotal : rng.chance(0.15) ? rng.int(0, gpuTotal - 1) : 0,
    pricePerGpu,
    minBidPerGpu: round(pricePerGpu * rng.range(0.35, 0.7), 4),
    storageCost: round(rng.range(0.05, 0.3), 3),
    inetUpCost: round(rng.range(0.0, 0.02), 4),
    inetDownCost: round(rng.range(0.0, 0.02), 4),
    inetUp: round(rng.range(50, 10000), 1),
    inetDown: round(rng.range(100, 10000), 1),
    reliability,
    verified,
    listed: rng.chance(0.97),
    datacenter,
    staticIp: datacenter || rng.chance(0.4),
    directPortCount,
    city: region.city,
    cc: region.cc,
    driverVersion: driver.version,
    cudaMaxGood: driver.cuda,
    clusterId: datacenter && rng.chance(0.15) ? 1 + rng.int(0, 40) : null,
    cpuCores: gpuTotal * rng.pick([8, 12, 16, 32]),
    cpuRamMb: gpuTotal * rng.pick([32, 64, 128]) * 1024,
    cpuName: rng.pick(CPU_NAMES),
    cpuGhz: round(rng.range(2.0, 5.5), 1),
    diskSpaceGb: rng.pick([200, 500, 1000, 2000, 4000, 8000]),
    diskBw: round(rng.range(500, 7000), 1),
    pcieBw: round(rng.range(10, 50), 1),
    pciGen: rng.pick([3, 4, 4, 5]),
    publicIp: `198.51.${Math.floor(index / 250) % 256}.${(index % 250) + 1}`,
    durationSeconds: round(rng.range(3, 180) * 86400, 0),
    external: false,
  };
}

/** Builds a deterministic marketplace of at least `offerCount` asks (machines yield asks for 1, 2, 4 … GPUs). */
export function generateMarketplace(seed: string | number, offerCount: number): Marketplace {
  const rng = createRng(`market:${seed}`);
  const machines: Machine[] = [];
  const asks: Ask[] = [];
  let nextAskId = 1_000_000 + rng.int(0, 50_000);
  for (let i = 0; asks.length < offerCount; i++) {
    const machine = makeMachine(rng, i);
    machines.push(machine);
    const counts = [1, 2, 4, 8].filter((c) => c <= machine.gpuTotal);
    if (!counts.includes(machine.gpuTotal)) counts.push(machine.gpuTotal);
    for (const numGpus of counts) {
      if (asks.length >= offerCount) break;
      nextAskId += rng.int(1, 40);
      asks.push({ id: nextAskId, machine, numGpus });
    }
  }
  return { machines, asks, byId: new Map(asks.map((a) => [a.id, a])) };
}

export { packDriverVersion };
