import type ssh2 from 'ssh2';

type Client = InstanceType<typeof ssh2.Client>;

/** What ssh2 keeps behind its public API: its protocol (with `ping`) and the queue of global-request replies. */
interface ClientInternals {
  _protocol?: { ping?: () => void };
  _callbacks?: ((failed: boolean | Error) => void)[];
}

/**
 * One SSH round trip in ms, timed with the keepalive global request OpenSSH answers (RFC 4254 §4:
 * a request with want-reply gets SUCCESS or FAILURE, either will do). It is the only way to time the
 * link without starting a process on the host. ssh2 exposes no ping, so this uses its internals
 * (the same ones its own keepalive uses) and answers null when they are not there or no reply
 * comes within `timeoutMs`: the caller then plans for an unknown link.
 */
export function pingMs(client: Client, timeoutMs = 2000): Promise<number | null> {
  const c = client as unknown as ClientInternals;
  const ping = c._protocol?.ping;
  const replies = c._callbacks;
  if (typeof ping !== 'function' || !Array.isArray(replies)) return Promise.resolve(null);
  return new Promise((resolve) => {
    const started = performance.now();
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      resolve(null);
    }, timeoutMs);
    timer.unref?.();
    // The reply queue is in request order: this entry is answered by our ping's reply (even a late one).
    const entry = (answer: boolean | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // ssh2 answers every pending request with an Error when the connection ends: that is no round trip.
      resolve(answer instanceof Error ? null : performance.now() - started);
    };
    replies.push(entry);
    try {
      ping.call(c._protocol);
    } catch {
      const i = replies.lastIndexOf(entry);
      if (i >= 0) replies.splice(i, 1);
      entry(new Error('ping not sent'));
    }
  });
}
