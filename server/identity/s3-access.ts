import type { ServerDeps } from '../deps.js';
import { InputError } from '../errors.js';
import { parseS3Uri } from '../copy/s3-store.js';
import { identityOf } from './caller-deps.js';

const SAFE_USER = /^[A-Za-z0-9._@-]{1,64}$/;

/** `s3://bucket/a/b` with no trailing slash; segments as parsed (`.`/`..` are refused where the URI is used). */
function normal(uri: string): string {
  const { bucket, prefix } = parseS3Uri(uri);
  return prefix ? `s3://${bucket}/${prefix}` : `s3://${bucket}`;
}

/**
 * Whether the caller may have this server read or write `uri` with its own S3 credentials. The local operator
 * may (their credentials, their buckets). An authenticated user may only below an entry of
 * VAST_MCP_S3_USER_PREFIXES (`{user}` = their name): otherwise one team member could have a job read another's
 * outputs and checkpoints onto an instance they control, or overwrite them.
 */
export function assertS3Access(deps: ServerDeps, uri: string, what: string): void {
  const { caller } = identityOf(deps);
  if (!caller.authenticated) return;
  const user = caller.user ?? '';
  const allowed = SAFE_USER.test(user) ? (deps.config.s3.userPrefixes ?? []).map((p) => normal(p.replaceAll('{user}', user))) : [];
  const target = normal(uri);
  if (allowed.some((a) => target === a || target.startsWith(`${a}/`))) return;
  throw new InputError(
    `${what} ${JSON.stringify(uri)} is outside the S3 locations you may use with this server's credentials (${
      allowed.length ? allowed.join(', ') : 'none are configured: the operator sets VAST_MCP_S3_USER_PREFIXES, e.g. s3://team-bucket/users/{user}'
    }). Nothing was done.`,
  );
}
