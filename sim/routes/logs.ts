import { randomBytes } from 'node:crypto';
import { SimHttpError } from '../http-error.js';
import { ok, type SimRequest } from '../http-router.js';
import { bodyObject, liveInstance, type RouteContext } from './context.js';

interface PendingLog {
  readyAt: number;
  text: string;
}

/** What S3 answers for a key that is not there yet, to a reader without list permission. */
const S3_DENIED =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>SIMREQ0001</RequestId></Error>';

/**
 * Logs are produced asynchronously: the API returns a `result_url` on S3 (DOC logs.yaml:60) that
 * answers 403 + XML until uploaded (or 404 with `logNotReady: 'not_found'`); vast.py polls it and
 * treats any non-200 as "not ready" (3669-3679).
 */
export function registerLogRoutes(ctx: RouteContext, readyDelayMs: number): void {
  const { router } = ctx;
  const results = new Map<string, PendingLog>();

  router.add('PUT', '/api/v0/instances/request_logs/:id', (req: SimRequest) => {
    const inst = liveInstance(ctx, req.params.id);
    const body = bodyObject(req.body);
    const tail = body.tail === undefined ? 1000 : Number(body.tail);
    if (!Number.isInteger(tail) || tail < 0) throw new SimHttpError(400, 'invalid_args', 'tail must be a whole number of lines (sent as a string).');
    let lines = inst.logLines;
    if (typeof body.filter === 'string' && body.filter) lines = lines.filter((l) => l.includes(body.filter as string));
    lines = lines.slice(-tail);
    const token = randomBytes(12).toString('hex');
    results.set(token, { readyAt: Date.now() + readyDelayMs, text: lines.join('\n') + (lines.length ? '\n' : '') });
    return ok({ success: true, result_url: `${ctx.baseUrl()}/result/${token}.log`, msg: 'Logs requested; fetch result_url when ready.' });
  });

  router.add(
    'GET',
    '/result/:file',
    (req: SimRequest) => {
      const token = (req.params.file ?? '').replace(/\.log$/, '');
      const r = results.get(token);
      if (!r || Date.now() < r.readyAt) {
        return ctx.world.fidelity.logNotReady === 's3_403'
          ? { status: 403, body: S3_DENIED, text: true }
          : { status: 404, body: 'Not ready', text: true };
      }
      return { status: 200, body: r.text, text: true };
    },
    { auth: false },
  );
}
