import type { ClientChannel } from 'ssh2';

/**
 * ssh2 emits a channel's `exit` event synchronously when the host's exit-status request is parsed. When
 * the channel confirmation and the exit status arrive in one TCP read (a command that ends at once and
 * prints nothing; routine on Node 22), the event fires before the caller of `SshSession.channel()` has
 * resumed from its await, and a listener attached then would never see the status. `keepExitStatus` is
 * attached synchronously when the channel opens; it records the status and hands it to every `exit`
 * listener added later, at the moment it is added. A channel that truly ends without a status still
 * reports none.
 */
const statuses = new WeakMap<ClientChannel, unknown[]>();

export function keepExitStatus(ch: ClientChannel): void {
  ch.once('exit', (...args: unknown[]) => statuses.set(ch, args));
  ch.on('newListener', (event: string | symbol, listener: (...args: unknown[]) => void) => {
    if (event !== 'exit') return;
    const args = statuses.get(ch);
    if (args) listener.apply(ch, args);
  });
}
