import { readFileSync } from 'node:fs';
import type { ServerDeps } from '../deps.js';
import { ConfigError } from '../errors.js';
import type { ProfilesFile } from '../profiles/profile-config.js';
import { accountDigest, CopyLedger, type Ledger } from '../state/ledger.js';
import { VastClient } from '../vast/client.js';
import { VastHttp } from '../vast/http.js';
import { IdentityError, type Caller } from './caller.js';

/** The Vast account a call uses: its client and its copy ledger (scoped to that account's key). */
export interface ResolvedAccount {
  /** The configured account's name; null for the server's own key (deps.vast). */
  name: string | null;
  vast: VastClient;
  ledger: Ledger;
}

type AccountSpec = ProfilesFile['accounts'][string];

/** Clients per account and key, kept with the config every per-caller view shares. */
const clients = new WeakMap<object, Map<string, ResolvedAccount>>();

function readKey(name: string, a: AccountSpec, env: NodeJS.ProcessEnv): string {
  let key: string | undefined;
  if (a.api_key_env !== undefined) key = env[a.api_key_env]?.trim();
  else {
    try {
      key = readFileSync(a.api_key_file!, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(
        `Account "${name}": cannot read its key file (${(e as NodeJS.ErrnoException).code ?? 'error'}). Nothing was done; the operator must fix the file.`,
      );
    }
  }
  if (!key)
    throw new ConfigError(
      `Account "${name}": its API key is not available (${a.api_key_env !== undefined ? `environment variable ${a.api_key_env} is unset or empty` : 'the key file is empty'}). Nothing was done.`,
    );
  return key;
}

/**
 * The account for a caller (15.4). No accounts configured: the server's own key for everyone (as
 * before). Accounts configured: the local (stdio) caller uses the server's key; an authenticated caller
 * uses the account mapped to their team, and is refused when there is none (fail closed: a caller of
 * team B never reaches team A's instances, nor the operator's key by default).
 */
export function accountFor(
  deps: ServerDeps,
  file: ProfilesFile,
  caller: Caller,
  team: string | null,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedAccount {
  const entries = Object.entries(file.accounts);
  const own = (): ResolvedAccount => ({ name: null, vast: deps.vastFor ? deps.vastFor(caller) : deps.vast, ledger: deps.ledger });
  if (!entries.length || !caller.authenticated) return own();
  const hit = team === null ? undefined : entries.find(([, a]) => a.teams.includes(team));
  if (!hit)
    throw new IdentityError(
      `Refused: this server holds Vast accounts per team and ${team === null ? 'your identity names no team' : `team "${team}" is mapped to none`}. Nothing was done; ask the server's operator to map your team to an account.`,
    );
  const [name, spec] = hit;
  const key = readKey(name, spec, env);
  deps.secrets.add(key);
  const url = (spec.api_url ?? deps.config.apiUrl).replace(/\/+$/, '');
  const cacheKey = `${name}\0${url}\0${accountDigest(key)}`;
  const perConfig = clients.get(deps.config) ?? new Map<string, ResolvedAccount>();
  clients.set(deps.config, perConfig);
  const cached = perConfig.get(cacheKey);
  if (cached) return cached;
  const c = deps.config;
  const http = new VastHttp(
    {
      baseUrl: url,
      apiKey: key,
      connectTimeoutMs: c.timeouts.connectMs,
      headersTimeoutMs: c.timeouts.headersMs,
      bodyTimeoutMs: c.timeouts.bodyMs,
      pacer: c.pacing ? undefined : null,
    },
    deps.logger.child({ component: 'vast-http', account: name }),
    deps.secrets,
  );
  const resolved: ResolvedAccount = {
    name,
    vast: new VastClient(http),
    ledger: (deps.ledgerFor ?? ((scope) => new CopyLedger(c.stateDir, undefined, scope)))({ platform: url, account: accountDigest(key) }),
  };
  perConfig.set(cacheKey, resolved);
  return resolved;
}
