import { z } from 'zod';

const ENV_NAME = /^([A-Za-z_][A-Za-z0-9_]*|-p \d+(:\d+)?(\/(tcp|udp))?)$/;

export const CreateInputSchema = z
  .object({
    offer_id: z.number().int().positive().optional().describe('Rent this exact offer (from offers); otherwise the cheapest match of the filters'),
    gpu_name: z.string().min(2).max(64).optional().describe('Exact GPU model, e.g. "RTX 4090" (default when no offer or filter is given)'),
    num_gpus: z.number().int().min(1).max(16).optional().describe('GPUs per instance'),
    min_gpu_ram_gb: z.number().positive().max(1024).optional().describe('Minimum VRAM per GPU, GB'),
    geolocation: z
      .array(z.string().regex(/^[A-Za-z]{2}$/, 'two-letter country code'))
      .max(50)
      .optional()
      .describe('Allowed countries, e.g. ["US","CA"]'),
    max_dph: z.number().positive().max(1000).optional().describe('Maximum price per instance, USD/hour'),
    min_reliability: z.number().min(0).max(1).optional().describe('Minimum host reliability 0–1'),
    min_direct_ports: z.number().int().min(0).max(65535).optional(),
    query: z.string().max(2000).optional().describe('Extra filters in the official query language'),
    conservative: z.boolean().optional().describe('Pick the second cheapest offer instead of the cheapest'),
    profile: z
      .string()
      .max(64)
      .optional()
      .describe('A GPU profile (profiles resource): its limits filter the offers and are enforced, its max_hours is the quoted duration'),
    project: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lowercase letters, digits and dashes')
      .optional()
      .describe("Project name: goes into the label and is checked against that project's budget"),
    image: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[^\s]+$/, 'no spaces')
      .optional()
      .describe('Docker image (default pytorch/pytorch:latest)'),
    disk_gb: z.number().min(8).max(100000).optional().describe('Disk, GB (default 64). It cannot grow after creation.'),
    count: z.number().int().min(1).max(8).optional().describe('Number of instances (default 1), each on its own machine'),
    label: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\n\r]+$/, 'one line')
      .optional()
      .describe('Label prefix; default: your Vast username, else email local part, else vast-user. A unique suffix is added.'),
    env: z
      .record(z.string().regex(ENV_NAME, 'a variable name or a port flag like "-p 8080:8080"'), z.string().max(4096))
      .optional()
      .describe('Environment variables (put secrets here, never in onstart) and port flags'),
    onstart: z
      .string()
      .max(200_000)
      .optional()
      .describe('Shell script run at every start (the durable way to relaunch work). Must not contain secrets.'),
    interruptible: z.boolean().optional().describe('Bid for interruptible capacity (cheaper; can be paused without warning). Default false.'),
    bid_multiplier: z.number().min(1).max(10).optional().describe('Interruptible bid = min_bid × this (default 1.2)'),
    hours: z.number().positive().max(10000).optional().describe('Hours for the projected cost in the quote (default 1)'),
    expected_instance_ids: z
      .array(z.number().int().positive())
      .max(1000)
      .optional()
      .describe('Instances the user already knows about; any others are pointed out before renting'),
    api_key_source: z.enum(['env', 'file', 'sandbox']).optional().describe('Where the API key comes from, as confirmed by the user'),
    wait: z.boolean().optional().describe('Wait until running (hard deadline), with progress notifications'),
    wait_timeout_seconds: z.number().int().min(5).max(3600).optional().describe('Deadline for wait, seconds (default 600)'),
    confirmation_token: z.string().max(200).optional().describe('Token from a previous needs_confirmation answer, after the user said yes'),
  })
  .strict();

const QuoteLineSchema = z.object({
  offer_id: z.number(),
  machine_id: z.number(),
  gpu_name: z.string(),
  num_gpus: z.number(),
  location: z.string().nullable(),
  reliability: z.number().nullable(),
  direct_ports: z.number(),
  gpu_per_hour: z.number(),
  bid_per_hour: z.number().nullable(),
  disk_per_hour: z.number(),
  total_per_hour: z.number().describe('USD/hour'),
  storage_cost_per_gb_month: z.number(),
  bandwidth_up_per_gb: z.number(),
  bandwidth_down_per_gb: z.number(),
  projected_total: z.number().describe('USD for `hours`'),
});

const BillingLine = z.object({ id: z.number(), label: z.string().nullable(), state: z.string().nullable(), burn_per_hour: z.number() });

export const CreateOutputSchema = z.object({
  status: z.enum(['needs_confirmation', 'declined', 'created', 'partially_created']),
  proposal: z.object({
    api_key_source: z.string(),
    image: z.string(),
    disk_gb: z.number(),
    count: z.number(),
    interruptible: z.boolean(),
    filters: z.record(z.string(), z.unknown()),
    defaults_applied: z.array(z.string()),
  }),
  quote: z.array(QuoteLineSchema),
  total_per_hour: z.number(),
  projected_total: z.number(),
  hours: z.number(),
  unexpected_instances: z.array(BillingLine).describe('Instances billing that the agent did not list in expected_instance_ids'),
  already_billing: z.array(BillingLine).describe('Every instance already on the account, whatever the agent expected'),
  run: z
    .object({
      label_prefix: z.string(),
      project: z.string().nullable(),
      onstart: z.string().nullable(),
      env_names: z.array(z.string()),
      ports: z.array(z.string()),
    })
    .describe('What will run on the instance besides the image'),
  billing_started: z.boolean().describe('True when the platform accepted a rental: instances listed are rented and billing'),
  next_step: z.string().describe('What the agent must do next'),
  duplicates: z
    .array(z.number())
    .describe('Extra instances from a create the platform committed late: rented, billing disk, stopped; ask the user whether to destroy them'),
  warnings: z.array(z.string()),
  fallback_reason: z.string().optional().describe('Why the token flow is used although the client has elicitation'),
  approval_channel: z.enum(['elicitation', 'url', 'token']).optional(),
  notes: z.array(z.string()),
  questions: z.array(z.string()).optional(),
  confirmation_token: z.string().optional(),
  approval_url: z.string().optional().describe('Local approval page the user has open (URL-mode elicitation)'),
  expires_at: z.string().optional(),
  instances: z.array(
    z.object({
      instance_id: z.number(),
      label: z.string(),
      offer_id: z.number(),
      total_per_hour: z.number(),
      reconciled: z.boolean(),
      replaced_offer_id: z.number().nullable(),
      state: z.string().nullable(),
      diagnosis: z.string().nullable(),
    }),
  ),
});
