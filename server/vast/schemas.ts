import { z } from 'zod';

/**
 * Shapes of the Vast API answers we rely on. Objects strip unknown keys, so a field we never read
 * (such as the `api_key` that `/users/current` echoes) cannot travel further into the server.
 */
const num = z.number().nullable().optional();
const str = z.string().nullable().optional();

export const OfferSchema = z.object({
  id: z.number(),
  machine_id: z.number(),
  host_id: num,
  num_gpus: z.number(),
  gpu_name: z.string(),
  gpu_ram: num,
  gpu_total_ram: num,
  dph_base: num,
  dph_total: z.number(),
  min_bid: num,
  storage_cost: num,
  inet_up_cost: num,
  inet_down_cost: num,
  inet_up: num,
  inet_down: num,
  reliability: num,
  reliability2: num,
  geolocation: str,
  direct_port_count: num,
  dlperf: num,
  dlperf_per_dphtotal: num,
  total_flops: num,
  verified: z.boolean().nullable().optional(),
  verification: str,
  rentable: z.boolean().nullable().optional(),
  rented: z.boolean().nullable().optional(),
  is_bid: z.boolean().nullable().optional(),
  cuda_max_good: num,
  driver_version: str,
  cpu_ram: num,
  cpu_cores_effective: num,
  disk_space: num,
  cluster_id: num,
  discounted_dph_total: num,
});
export type Offer = z.infer<typeof OfferSchema>;

export const OffersResponseSchema = z.object({ offers: z.array(OfferSchema) });

const PortBinding = z.array(z.object({ HostIp: z.string().optional(), HostPort: z.string() }));

export const InstanceSchema = z.object({
  id: z.number(),
  machine_id: num,
  actual_status: str,
  intended_status: str,
  cur_state: str,
  next_state: str,
  status_msg: str,
  label: str,
  image_uuid: str,
  image_runtype: str,
  ssh_host: str,
  ssh_port: num,
  public_ipaddr: str,
  ports: z.record(z.string(), PortBinding).nullable().optional(),
  start_date: num,
  uptime_mins: num,
  num_gpus: num,
  gpu_name: str,
  dph_base: num,
  dph_total: num,
  storage_cost: num,
  disk_space: num,
  inet_up_cost: num,
  inet_down_cost: num,
  is_bid: z.boolean().nullable().optional(),
  min_bid: num,
  geolocation: str,
  reliability2: num,
  direct_port_count: num,
  extra_env: z.array(z.tuple([z.string(), z.string()])).nullable().optional(),
  extra: z.unknown().optional(),
});
export type Instance = z.infer<typeof InstanceSchema>;

export const InstancesPageSchema = z.object({
  instances: z.array(InstanceSchema).nullable(),
  next_token: z.string().nullable().optional(),
  total_instances: num,
});

export const InstanceResponseSchema = z.object({ instances: InstanceSchema.nullable() });

export const UserSchema = z.object({
  id: z.number(),
  username: str,
  email: str,
  fullname: str,
  credit: z.number(),
  balance: num,
});
export type User = z.infer<typeof UserSchema>;

export const SuccessSchema = z.object({ success: z.boolean().optional(), msg: z.string().optional() });

export const InvoiceSchema = z.object({
  id: z.union([z.string(), z.number()]),
  description: str,
  quantity: num,
  rate: num,
  amount: z.number(),
  timestamp: z.number(),
  type: z.string(),
  instance_id: num,
});
export type Invoice = z.infer<typeof InvoiceSchema>;

export const InvoicesResponseSchema = z.object({
  invoices: z.array(InvoiceSchema),
  current: z.object({ charges: num, total: num, credit: num }).partial().optional(),
});

const ChargeItemSchema = z.object({ type: z.string(), amount: z.number(), quantity: num, rate: num, description: str });
export const ChargesResponseSchema = z.object({
  count: num,
  total: num,
  next_token: z.string().nullable().optional(),
  results: z.array(
    z.object({ start: z.number(), end: z.number(), type: z.string(), source: z.string(), description: str, amount: z.number(), items: z.array(ChargeItemSchema).optional() }),
  ),
});
export type ChargesResponse = z.infer<typeof ChargesResponseSchema>;

export const GpuNamesSchema = z.object({ gpu_names: z.array(z.string()) });
