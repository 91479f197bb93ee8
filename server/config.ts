import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { s3ConfigFromEnv, type S3Config } from './copy/s3-store.js';

export interface ServerConfig {
  apiUrl: string;
  apiKey: string | null;
  apiKeySource: 'env' | 'file' | 'sandbox' | 'none';
  stateDir: string;
  logLevel: string;
  /** Results come from the simulator: say so in every answer. */
  simulated: boolean;
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  /** Hours used for the projected cost in offer listings when the caller gives none. */
  defaultProjectionHours: number;
  /** Interruptible bid = min_bid × this. */
  bidMultiplier: number;
  /** Default hard deadline for `wait: true`, seconds. */
  waitTimeoutSeconds: number;
  /**
   * How long one tool call may block, seconds (default 45, under the 60 s common clients give a call): a wait
   * returns a resumable answer then, and it is the ssh tool's default command timeout.
   */
  callSeconds: number;
  /** Poll interval bounds while waiting, ms (Vast allows one show-instance call per 2 s). */
  pollMinMs: number;
  pollMaxMs: number;
  /** How long a confirmation or approval token stays valid, seconds. */
  confirmationTtlSeconds: number;
  /** Local copies are confined to this directory. */
  copyRoot: string;
  s3: S3Config;
  /** YAML file of GPU profiles and budgets (default: the shipped one). */
  profilesPath: string | undefined;
  /** Space API calls per endpoint to stay under the platform's rate limits (VAST_MCP_PACING=off to disable). */
  pacing: boolean;
  /**
   * Only a human channel (an elicitation form the client shows the user) may approve spending or
   * destroying: the confirmation-token fallback, which the agent could redeem itself, is refused.
   * Configuration only (VAST_MCP_REQUIRE_HUMAN_APPROVAL), never a tool argument.
   */
  requireHumanApproval: boolean;
  /** How long after a lost create answer the platform may still commit it (reconciliation window), ms. */
  createCommitWindowMs: number;
  /** How long one call waits for the human's decision on a URL-mode approval page before answering "pending", ms. */
  approvalWaitMs: number;
  /**
   * The shared store (postgres://…) for a team: jobs, ledger, approvals, confirmations. Unset: SQLite in the
   * state directory. May hold a password: registered as a secret where the store is opened, never logged.
   */
  storeUrl?: string;
}

export const DEFAULT_API_URL = 'https://console.vast.ai';

export interface KeyLookup {
  key: string | null;
  source: ServerConfig['apiKeySource'];
  warning?: string;
}

/** `VAST_API_KEY`, else the official CLI's key file. Warns when that file is readable by others. */
export function resolveApiKey(env: NodeJS.ProcessEnv, home = homedir()): KeyLookup {
  const fromEnv = env.VAST_API_KEY?.trim();
  if (fromEnv) return { key: fromEnv, source: 'env' };
  const file = join(home, '.config', 'vastai', 'vast_api_key');
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return { key: null, source: 'none' };
  }
  if (!text) return { key: null, source: 'none', warning: `${file} is empty; set VAST_API_KEY or write your key there.` };
  const mode = statSync(file).mode & 0o777;
  const warning = mode & 0o077 ? `${file} is readable by group/others (mode ${mode.toString(8)}); run: chmod 600 ${file}` : undefined;
  return { key: text, source: 'file', warning };
}

function positiveMs(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number of milliseconds, got ${JSON.stringify(text)}`);
  return n;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${name} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

/** VAST_MCP_STORE_URL: a postgres:// URL or nothing; the message never repeats the URL (it may hold a password). */
function storeUrlFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const v = env.VAST_MCP_STORE_URL?.trim();
  if (!v) return undefined;
  if (!/^postgres(ql)?:\/\/[^/]/.test(v)) throw new ConfigError('VAST_MCP_STORE_URL must be a postgres:// (or postgresql://) URL');
  return v;
}

/** Defaults < environment < flags. */
export function loadConfig(
  flags: { apiUrl?: string; stateDir?: string; logLevel?: string; configPath?: string },
  env: NodeJS.ProcessEnv,
  home = homedir(),
): { config: ServerConfig; warnings: string[] } {
  const warnings: string[] = [];
  const key = resolveApiKey(env, home);
  if (key.warning) warnings.push(key.warning);
  const apiUrl = flags.apiUrl ?? env.VAST_URL ?? DEFAULT_API_URL;
  if (!/^https?:\/\//.test(apiUrl)) throw new ConfigError(`VAST_URL must be an http(s) URL, got ${JSON.stringify(apiUrl)}`);
  return {
    config: {
      apiUrl: apiUrl.replace(/\/+$/, ''),
      apiKey: key.key,
      apiKeySource: key.source,
      stateDir: flags.stateDir ?? env.VAST_MCP_STATE_DIR ?? join(home, '.local', 'state', 'vast-mcp'),
      logLevel: flags.logLevel ?? env.VAST_MCP_LOG_LEVEL ?? 'info',
      simulated: false,
      timeouts: {
        connectMs: positiveMs(env, 'VAST_MCP_CONNECT_TIMEOUT_MS', 10_000),
        headersMs: positiveMs(env, 'VAST_MCP_HEADERS_TIMEOUT_MS', 30_000),
        bodyMs: positiveMs(env, 'VAST_MCP_BODY_TIMEOUT_MS', 60_000),
      },
      defaultProjectionHours: 1,
      bidMultiplier: positiveNumber(env, 'VAST_MCP_BID_MULTIPLIER', 1.2, 1, 10),
      waitTimeoutSeconds: positiveNumber(env, 'VAST_MCP_WAIT_TIMEOUT_SECONDS', 600, 1, 86400),
      callSeconds: positiveNumber(env, 'VAST_MCP_CALL_SECONDS', 45, 5, 3600),
      pollMinMs: positiveNumber(env, 'VAST_MCP_POLL_MS', 2500, 10, 60_000),
      pollMaxMs: 15_000,
      confirmationTtlSeconds: 600,
      copyRoot: env.VAST_MCP_COPY_ROOT ?? join(home, 'vast-mcp-files'),
      s3: s3ConfigFromEnv(env),
      profilesPath: flags.configPath ?? env.VAST_MCP_CONFIG,
      pacing: !/^(off|0|false|no)$/i.test(env.VAST_MCP_PACING ?? ''),
      requireHumanApproval: /^(1|true|yes|on)$/i.test(env.VAST_MCP_REQUIRE_HUMAN_APPROVAL ?? ''),
      createCommitWindowMs: positiveNumber(env, 'VAST_MCP_CREATE_COMMIT_WINDOW_MS', 30_000, 0, 600_000),
      approvalWaitMs: positiveNumber(env, 'VAST_MCP_APPROVAL_WAIT_MS', 45_000, 0, 600_000),
      storeUrl: storeUrlFromEnv(env),
    },
    warnings,
  };
}
