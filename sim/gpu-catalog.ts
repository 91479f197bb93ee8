/**
 * GPU models offered by the simulated marketplace. Prices are per GPU per hour (USD) and roughly
 * track the public marketplace in 2026; dlperf and TFLOPS are per GPU.
 */
export interface GpuModel {
  name: string;
  ramMb: number;
  arch: string;
  computeCap: number;
  tflops: number;
  dlperf: number;
  memBw: number;
  maxPower: number;
  priceMin: number;
  priceMax: number;
  weight: number;
  counts: readonly number[];
  datacenterShare: number;
}

export const GPU_CATALOG: readonly GpuModel[] = [
  {
    name: 'RTX 3090',
    ramMb: 24576,
    arch: 'nvidia',
    computeCap: 860,
    tflops: 35.6,
    dlperf: 21.0,
    memBw: 936,
    maxPower: 350,
    priceMin: 0.12,
    priceMax: 0.28,
    weight: 16,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.1,
  },
  {
    name: 'RTX 4090',
    ramMb: 24564,
    arch: 'nvidia',
    computeCap: 890,
    tflops: 82.6,
    dlperf: 36.5,
    memBw: 1008,
    maxPower: 450,
    priceMin: 0.22,
    priceMax: 0.55,
    weight: 24,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.15,
  },
  {
    name: 'RTX 5090',
    ramMb: 32607,
    arch: 'nvidia',
    computeCap: 1200,
    tflops: 104.8,
    dlperf: 52.0,
    memBw: 1792,
    maxPower: 575,
    priceMin: 0.45,
    priceMax: 0.95,
    weight: 10,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.2,
  },
  {
    name: 'RTX A6000',
    ramMb: 49140,
    arch: 'nvidia',
    computeCap: 860,
    tflops: 38.7,
    dlperf: 24.0,
    memBw: 768,
    maxPower: 300,
    priceMin: 0.35,
    priceMax: 0.6,
    weight: 8,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.4,
  },
  {
    name: 'L40S',
    ramMb: 46068,
    arch: 'nvidia',
    computeCap: 890,
    tflops: 91.6,
    dlperf: 40.0,
    memBw: 864,
    maxPower: 350,
    priceMin: 0.55,
    priceMax: 0.95,
    weight: 7,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.8,
  },
  {
    name: 'A100 PCIE',
    ramMb: 40960,
    arch: 'nvidia',
    computeCap: 800,
    tflops: 19.5,
    dlperf: 30.0,
    memBw: 1555,
    maxPower: 250,
    priceMin: 0.6,
    priceMax: 1.1,
    weight: 5,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.8,
  },
  {
    name: 'A100 SXM4',
    ramMb: 81920,
    arch: 'nvidia',
    computeCap: 800,
    tflops: 19.5,
    dlperf: 34.0,
    memBw: 2039,
    maxPower: 400,
    priceMin: 0.8,
    priceMax: 1.6,
    weight: 7,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.9,
  },
  {
    name: 'H100 PCIE',
    ramMb: 81559,
    arch: 'nvidia',
    computeCap: 900,
    tflops: 51.2,
    dlperf: 60.0,
    memBw: 2039,
    maxPower: 350,
    priceMin: 1.4,
    priceMax: 2.3,
    weight: 5,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.9,
  },
  {
    name: 'H100 SXM',
    ramMb: 81559,
    arch: 'nvidia',
    computeCap: 900,
    tflops: 66.9,
    dlperf: 75.0,
    memBw: 3352,
    maxPower: 700,
    priceMin: 1.6,
    priceMax: 2.8,
    weight: 8,
    counts: [1, 2, 4, 8],
    datacenterShare: 0.95,
  },
  {
    name: 'H200',
    ramMb: 143771,
    arch: 'nvidia',
    computeCap: 900,
    tflops: 66.9,
    dlperf: 82.0,
    memBw: 4800,
    maxPower: 700,
    priceMin: 2.2,
    priceMax: 3.6,
    weight: 4,
    counts: [1, 2, 4, 8],
    datacenterShare: 1,
  },
  {
    name: 'RTX 3060',
    ramMb: 12288,
    arch: 'nvidia',
    computeCap: 860,
    tflops: 12.7,
    dlperf: 8.5,
    memBw: 360,
    maxPower: 170,
    priceMin: 0.04,
    priceMax: 0.1,
    weight: 6,
    counts: [1, 2, 4],
    datacenterShare: 0,
  },
];

export const REGIONS: readonly { city: string; cc: string; weight: number }[] = [
  { city: 'California', cc: 'US', weight: 14 },
  { city: 'Texas', cc: 'US', weight: 10 },
  { city: 'Virginia', cc: 'US', weight: 8 },
  { city: 'Oregon', cc: 'US', weight: 5 },
  { city: 'Quebec', cc: 'CA', weight: 5 },
  { city: 'Ontario', cc: 'CA', weight: 3 },
  { city: 'Bavaria', cc: 'DE', weight: 6 },
  { city: 'Hesse', cc: 'DE', weight: 4 },
  { city: 'North Holland', cc: 'NL', weight: 4 },
  { city: 'Uusimaa', cc: 'FI', weight: 3 },
  { city: 'Île-de-France', cc: 'FR', weight: 3 },
  { city: 'England', cc: 'GB', weight: 4 },
  { city: 'Stockholm', cc: 'SE', weight: 2 },
  { city: 'Mazovia', cc: 'PL', weight: 2 },
  { city: 'Tokyo', cc: 'JP', weight: 3 },
  { city: 'Seoul', cc: 'KR', weight: 2 },
  { city: 'Singapore', cc: 'SG', weight: 2 },
  { city: 'New South Wales', cc: 'AU', weight: 1 },
  { city: 'São Paulo', cc: 'BR', weight: 1 },
  { city: 'Taiwan', cc: 'TW', weight: 2 },
];

export const DRIVERS: readonly { version: string; cuda: number }[] = [
  { version: '535.183.01', cuda: 12.2 },
  { version: '545.29.06', cuda: 12.3 },
  { version: '550.54.14', cuda: 12.4 },
  { version: '560.35.03', cuda: 12.6 },
  { version: '570.124.06', cuda: 12.8 },
  { version: '575.57.08', cuda: 12.9 },
  { version: '580.82.07', cuda: 13.0 },
];

/** `535.86.05` → 535086005, the packed form the CLI sends and the API compares. */
export function packDriverVersion(version: string): number {
  const parts = version.split('.');
  return Number(parts.map((p) => p.padStart(3, '0')).join(''));
}
