import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';
import type * as Yaml from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';

const money = z.number().positive().max(1_000_000);

export const ProfileSchema = z
  .object({
    description: z.string().max(500).optional(),
    gpu_name: z.string().min(2).max(64),
    num_gpus: z.number().int().min(1).max(16).default(1),
    max_dph: money.describe('USD/hour for the whole instance'),
    min_reliability: z.number().min(0).max(1).default(0.9),
    max_hours: z.number().positive().max(8760),
  })
  .strict();

const LimitSchema = z.object({ total_usd: money.optional(), max_burn_per_hour: money.optional() }).strict();

export const ProfilesFileSchema = z
  .object({
    profiles: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'profile names are lowercase letters, digits and dashes'), ProfileSchema)
      .default({}),
    budgets: z
      .object({
        total_usd: money.optional(),
        since: z
          .string()
          .regex(/^\d{4}-\d{2}-\d{2}/, 'an ISO date like 2026-01-01')
          .optional(),
        max_burn_per_hour: money.optional(),
        /** Fewest hours a budget check projects when no profile gives them (the agent's `hours` may be lower). */
        min_projection_hours: z.number().positive().max(8760).default(1),
        projects: z
          .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'project names are lowercase letters, digits and dashes'), LimitSchema)
          .default({}),
      })
      .strict()
      .default({ projects: {}, min_projection_hours: 1 }),
  })
  .strict();

export type Profile = z.infer<typeof ProfileSchema>;
export type ProfilesFile = z.infer<typeof ProfilesFileSchema>;

export function defaultProfilesPath(): string {
  return join(packageRoot(), 'config', 'default-profiles.yaml');
}

/** Parses and validates the profiles file; a bad file is a ConfigError naming the line and field. */
/** yaml is loaded only when a YAML file is actually parsed (the shipped defaults are precompiled to JSON). */
function yaml(): typeof Yaml {
  return createRequire(import.meta.url)('yaml') as typeof Yaml;
}

export function parseProfiles(text: string, source: string): ProfilesFile {
  const { LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const at = lines.linePos(e.pos[0]);
    throw new ConfigError(`${source}:${at.line}:${at.col}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const parsed = ProfilesFileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String);
    // Point at the deepest node that exists for this path.
    let line = 1;
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) {
        line = lines.linePos(node.range[0]).line;
        break;
      }
    }
    const why = issue.code === 'invalid_key' ? 'names must be lowercase letters, digits and dashes' : issue.message;
    throw new ConfigError(`${source}:${line}: ${path.join('.') || '(top level)'}: ${why}`);
  }
  return parsed.data;
}

/** The shipped defaults, converted to JSON at build time (scripts/post-build.mjs) for a faster start. */
function precompiledDefaults(): ProfilesFile | null {
  const json = join(packageRoot(), 'dist', 'config', 'default-profiles.json');
  if (!existsSync(json)) return null;
  return ProfilesFileSchema.parse(JSON.parse(readFileSync(json, 'utf8')));
}

export function loadProfiles(path: string | undefined): { file: ProfilesFile; path: string } {
  if (path === undefined) {
    const pre = precompiledDefaults();
    if (pre) return { file: pre, path: defaultProfilesPath() };
  }
  const p = path ?? defaultProfilesPath();
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    throw new ConfigError(`Cannot read the profiles file ${p}: ${(e as Error).message}. Set VAST_MCP_CONFIG (or --config) to a readable YAML file.`);
  }
  return { file: parseProfiles(text, p), path: p };
}
