import { randomUUID } from 'node:crypto';

/** An error whose message is safe and useful to show the user: what went wrong and what to do. */
export class VastMcpError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'VastMcpError';
  }
}

export type ApiErrorKind =
  | 'auth'
  | 'not_found'
  | 'gone'
  | 'rate_limited'
  | 'server'
  | 'network'
  | 'timeout'
  | 'bad_response'
  | 'bad_request'
  | 'insufficient_credit'
  | 'rejected'
  | 'no_api_key';

export class VastApiError extends VastMcpError {
  constructor(
    message: string,
    readonly kind: ApiErrorKind,
    readonly status: number | null,
    readonly endpoint: string,
    /** True when the request may have taken effect although no answer arrived (timeouts, dropped connections). */
    readonly outcomeUnknown = false,
    readonly apiCode: string | null = null,
    /**
     * A contract id found in a non-success answer. The platform can create an instance and still
     * answer with an error (a spot bid below the winning price leaves a stopped instance that bills
     * disk; dstack api_client.py, commit 01becced9): the caller must report or clean it up.
     */
    readonly newContract: number | null = null,
  ) {
    super(message, `vast_${kind}`);
    this.name = 'VastApiError';
  }
}

/** Bad tool input discovered past schema validation (e.g. an unparsable query string). */
export class InputError extends VastMcpError {
  constructor(message: string) {
    super(message, 'invalid_input');
    this.name = 'InputError';
  }
}

export class ConfigError extends VastMcpError {
  constructor(message: string) {
    super(message, 'config');
    this.name = 'ConfigError';
  }
}

export interface PublicError {
  message: string;
  code: string;
  correlationId?: string;
}

/**
 * The one place that turns a thrown error into what the user sees. Known errors keep their
 * actionable message; anything else is logged and replaced by a generic message with an id.
 */
export function describeError(error: unknown, log: (id: string, error: unknown) => void): PublicError {
  if (error instanceof VastMcpError) return { message: error.message, code: error.code };
  const correlationId = randomUUID().slice(0, 8);
  log(correlationId, error);
  return {
    message: `Internal error (id ${correlationId}). Nothing further was changed by this call; check the server log for the id, and retry or report it.`,
    code: 'internal',
    correlationId,
  };
}
