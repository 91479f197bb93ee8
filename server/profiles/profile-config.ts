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
    /** Rentals under this profile belong to this project (the agent cannot attribute them elsewhere). */
    project: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,40}$/)
      .optional(),
  })
  .strict();

const LimitSchema = z.object({ total_usd: money.optional(), max_burn_per_hour: money.optional() }).strict();
const PROJECT_NAME = /^[a-z0-9][a-z0-9-]{0,40}$/;
/** User and team names as the auth layer gives them (server/identity/caller.ts). */
const IDENTITY_NAME = /^[\p{L}\p{N}][\p{L}\p{N}\p{M}._@+|:=~-]{0,255}$/u;

const ProjectLimitSchema = LimitSchema.extend({
  /** Only callers of this team may attribute rentals to the project (the local stdio user always may). */
  team: z.string().regex(IDENTITY_NAME).optional(),
}).strict();

const UserLimitSchema = LimitSchema.extend({
  team: z.string().regex(IDENTITY_NAME).optional().describe("the user's team when the token does not say"),
  default_project: z.string().regex(PROJECT_NAME).optional(),
}).strict();

const TeamLimitSchema = LimitSchema.extend({ default_project: z.string().regex(PROJECT_NAME).optional() }).strict();

/**
 * A Vast account the server holds for some teams. The key is read from an environment variable or a
 * file on the server, never written here (and never shown, logged or sent to an instance).
 */
const AccountSchema = z
  .object({
    api_key_env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,100}$/)
      .optional(),
    api_key_file: z.string().min(1).max(4096).optional(),
    /** The platform URL for this account (default: the server's VAST_URL). */
    api_url: z
      .string()
      .regex(/^https?:\/\//)
      .optional(),
    teams: z.array(z.string().regex(IDENTITY_NAME)).min(1),
  })
  .strict()
  .refine((a) => (a.api_key_env === undefined) !== (a.api_key_file === undefined), 'give exactly one of api_key_env or api_key_file');

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
        projects: z.record(z.string().regex(PROJECT_NAME, 'project names are lowercase letters, digits and dashes'), ProjectLimitSchema).default({}),
        /** Project of a rental that names none, when neither its profile nor its user or team gives one. */
        default_project: z.string().regex(PROJECT_NAME).optional(),
        /** Limits of each authenticated user (users: entries override them). */
        each_user: LimitSchema.optional(),
        users: z.record(z.string().regex(IDENTITY_NAME, 'user names as the auth layer gives them'), UserLimitSchema).default({}),
        teams: z.record(z.string().regex(IDENTITY_NAME, 'team names as the auth layer gives them'), TeamLimitSchema).default({}),
      })
      .strict()
      .default({ projects: {}, min_projection_hours: 1, users: {}, teams: {} }),
    /** Vast accounts per team (server/identity/accounts.ts); none: every caller uses the server's own key. */
    accounts: z.record(z.string().regex(PROJECT_NAME, 'account names are lowercase letters, digits and dashes'), AccountSchema).default({}),
  })
  .strict()
  .superRefine((f, ctx) => {
    const projects = Object.keys(f.budgets.projects);
    const known = (p: string | undefined, path: (string | number)[]) => {
      if (p !== undefined && projects.length > 0 && !projects.includes(p))
        ctx.addIssue({ code: 'custom', path, message: `project "${p}" is not listed under budgets.projects` });
    };
    known(f.budgets.default_project, ['budgets', 'default_project']);
    for (const [n, u] of Object.entries(f.budgets.users)) known(u.default_project, ['budgets', 'users', n, 'default_project']);
    for (const [n, t] of Object.entries(f.budgets.teams)) known(t.default_project, ['budgets', 'teams', n, 'default_project']);
    for (const [n, p] of Object.entries(f.profiles)) known(p.project, ['profiles', n, 'project']);
    const owner = new Map<string, string>();
    for (const [name, a] of Object.entries(f.accounts))
      for (const t of a.teams) {
        if (owner.has(t))
          ctx.addIssue({ code: 'custom', path: ['accounts', name, 'teams'], message: `team "${t}" is already mapped to account "${owner.get(t)}"` });
        owner.set(t, name);
      }
  });

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
