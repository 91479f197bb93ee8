import type { ServerDeps } from '../deps.js';
import { InputError } from '../errors.js';
import { IdentityError, type Caller } from '../identity/caller.js';
import { AuditUnreadable, type AuditEntry, type AuditLog } from '../state/audit-log.js';
import type { Profile, ProfilesFile } from './profile-config.js';
import { ownEntry } from './own-entry.js';

/**
 * The caller's team: the token's, else the budgets file's `users.<name>.team`. When both are given and
 * differ, nothing is attributed (fail closed): the operator must fix one of them.
 */
export function effectiveTeam(file: ProfilesFile, caller: Caller): string | null {
  if (!caller.authenticated || caller.user === null) return null;
  const configured = ownEntry(file.budgets.users, caller.user)?.team ?? null;
  if (caller.team !== null && configured !== null && caller.team !== configured)
    throw new IdentityError(
      `Refused: your token says team "${caller.team}" but the budgets file puts ${caller.user} in team "${configured}". Nothing was done; ask the server's operator to make them agree.`,
    );
  return caller.team ?? configured;
}

/**
 * The project a rental belongs to, by a rule the agent cannot escape (17.7): the `project` it names,
 * else the profile's project, else the user's, the team's or the file's default project. When the
 * budgets file lists projects, every rental must belong to a listed one (naming none or an unlisted
 * one would escape every project cap), a profile's project cannot be overridden, and a project bound
 * to a team is refused to authenticated callers of other teams. Without listed projects: as before.
 */
export function attributeProject(
  file: ProfilesFile,
  caller: Caller,
  team: string | null,
  req: { project?: string; profileName?: string; profile?: Profile },
): string | undefined {
  const b = file.budgets;
  const fromProfile = req.profile?.project;
  if (req.project !== undefined && fromProfile !== undefined && req.project !== fromProfile)
    throw new InputError(
      `Refused: profile "${req.profileName}" belongs to project "${fromProfile}", so its rentals cannot be attributed to "${req.project}". Drop project, or use another profile. Nothing was rented.`,
    );
  const user = caller.authenticated && caller.user !== null ? ownEntry(b.users, caller.user) : undefined;
  const project =
    req.project ??
    fromProfile ??
    user?.default_project ??
    (team !== null ? ownEntry(b.teams, team)?.default_project : undefined) ??
    b.default_project;
  const listed = Object.keys(b.projects);
  if (!listed.length) return project;
  if (project === undefined)
    throw new InputError(
      `Refused: the budgets file lists projects (${listed.join(', ')}), so every rental must belong to one and this call names none. Pass project (one of those), use a profile that belongs to a project, or ask the operator to set a default_project for you or your team. Nothing was rented.`,
    );
  const limits = ownEntry(b.projects, project);
  if (!limits)
    throw new InputError(
      `Refused: project "${project}" is not in the budgets file (listed: ${listed.join(', ')}); an unlisted project would escape every project cap. Use a listed project, or ask the operator to add it. Nothing was rented.`,
    );
  if (limits.team !== undefined && caller.authenticated && team !== limits.team)
    throw new InputError(
      `Refused: project "${project}" belongs to team "${limits.team}", not yours. Use a project of your team. Nothing was rented.`,
    );
  return project;
}

export interface InstanceOwner {
  user: string | null;
  team: string | null;
  account: string | null;
  project: string | null;
}

/**
 * Who rented each instance, from the audit log (every replica's, server/state/audit-log.ts) only (labels are never trusted: anyone can
 * put a name in one): the actor of its `rent` record, for a job's rental the actor who submitted the
 * job, and for a duplicate a late commit rented the actor of the attempt (a `late_rental` record, or the
 * `duplicates` its rent record lists).
 */
export function instanceOwners(entries: AuditEntry[]): Map<number, InstanceOwner> {
  const jobActor = new Map<string, AuditEntry['actor']>();
  const jobProject = new Map<string, string>();
  for (const e of entries) {
    const job = (e.args as { job?: unknown } | undefined)?.job;
    if (e.action !== 'submit' || e.result !== 'ok' || typeof job !== 'string') continue;
    jobActor.set(job, e.actor ?? null);
    const p = (e.detail as { project?: unknown } | undefined)?.project;
    if (typeof p === 'string') jobProject.set(job, p);
  }
  const attemptActor = new Map<string, AuditEntry['actor']>();
  for (const e of entries) {
    const label = (e.args as { label?: unknown } | undefined)?.label;
    if (e.action === 'rent_attempt' && typeof label === 'string') attemptActor.set(label, e.actor ?? null);
  }
  const out = new Map<number, InstanceOwner>();
  for (const e of entries) {
    // A duplicate a late commit rented belongs to whoever made the attempt whose marker it carries.
    const label = (e.args as { label?: unknown } | undefined)?.label;
    if (e.action === 'late_rental' && e.instance_id && typeof label === 'string' && attemptActor.has(label) && !out.has(e.instance_id)) {
      const actor = attemptActor.get(label) ?? null;
      out.set(e.instance_id, { user: actor?.user ?? null, team: actor?.team ?? null, account: actor?.account ?? null, project: null });
      continue;
    }
    if (e.action !== 'rent' || e.result !== 'ok' || !e.instance_id) continue;
    const job = (e.args as { job?: unknown } | undefined)?.job;
    const actor = e.actor ?? (typeof job === 'string' ? jobActor.get(job) : null) ?? null;
    const project = (e.detail as { project?: unknown } | undefined)?.project ?? (typeof job === 'string' ? jobProject.get(job) : undefined);
    const owner = {
      user: actor?.user ?? null,
      team: actor?.team ?? null,
      account: actor?.account ?? null,
      project: typeof project === 'string' ? project : null,
    };
    out.set(e.instance_id, owner);
    // Duplicates this rental's reconciliation found (and stopped) are the renter's to decide on.
    const dups = (e.detail as { duplicates?: unknown } | undefined)?.duplicates;
    if (Array.isArray(dups)) for (const d of dups) if (Number.isInteger(d) && !out.has(d as number)) out.set(d as number, owner);
  }
  return out;
}

/** The shared audit log, or AuditUnreadable saying what is unknown because of it and that nothing was done. */
export async function sharedEntries(audit: AuditLog, unknown: string, nothing?: string): Promise<AuditEntry[]> {
  try {
    return await audit.entriesShared();
  } catch (e) {
    throw new AuditUnreadable(e instanceof AuditUnreadable ? e.reason : e, unknown, nothing);
  }
}

/** Who rented each instance, per every replica's records; rejects (AuditUnreadable) when they cannot be read. */
export async function ownersOf(deps: ServerDeps): Promise<Map<number, InstanceOwner>> {
  return instanceOwners(await sharedEntries(deps.audit, 'who rented each instance (the owner rule)'));
}
