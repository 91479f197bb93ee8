import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One set of mount and PID namespaces per instance, held open by a small PID 1 that reaps orphans:
 * as in a real container, onstart and every SSH session see the same processes (a job's supervisor
 * signals its worker over SSH; `kill -9 -<pgid>` from a session reaches what onstart started), while
 * the host's processes, whose /proc/<pid>/environ would hand out the server's API key, stay invisible.
 */
const HOLDER_SCRIPT = (systemDirs: string[]) => `set -e
R="$1"; WS="$2"; HM="$3"; BIN="$4"
mount -t tmpfs tmpfs "$R"
for d in ${systemDirs.join(' ')}; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$R/$d";
  elif [ -d "/$d" ]; then mkdir -p "$R/$d"; mount --rbind "/$d" "$R/$d"; mount -o remount,bind,ro "$R/$d" 2>/dev/null || true; fi
done
mkdir -p "$R/workspace" "$R/root" "$R/tmp" "$R/dev" "$R/proc" "$R/.vast-sim/bin"
mount --bind "$WS" "$R/workspace"; mount --bind "$HM" "$R/root"; mount --bind "$BIN" "$R/.vast-sim/bin"
mount -t tmpfs tmpfs "$R/tmp"; mount --rbind /dev "$R/dev"; mount -t proc proc "$R/proc"
exec /bin/sh -c 'while :; do sleep 5 & wait; done'`;

/** Enters the instance's namespaces once its holder's host PID is known, then runs the command in its root. */
// The holder may take a while to set up its mounts on a busy host (hundreds of instances at once): up to ~30 s.
// The wait backs off (10 × 10 ms, 40 × 50 ms, then 200 ms): at a fixed 10 ms, the `sleep`s of a few dozen
// waiting commands took the CPU the holders needed to finish their mounts (200 instances at once never started).
const ENTER_SCRIPT = `i=0
while [ ! -s "$1" ]; do
  i=$((i + 1)); if [ $i -gt 190 ]; then echo "simulator: the instance's namespace did not start" >&2; exit 126; fi
  if [ $i -le 10 ]; then sleep 0.01; elif [ $i -le 50 ]; then sleep 0.05; else sleep 0.2; fi
done
exec nsenter -t "$(cat "$1")" -m -p -- chroot "$2" /bin/sh -c 'cd /workspace && if [ "$2" = 1 ] && command -v setsid >/dev/null; then exec setsid /bin/sh -c "$1"; fi; exec /bin/sh -c "$1"' sh "$3" "$4"`;

interface Holder {
  proc: ChildProcess;
  mnt: string;
  pidFile: string;
}

export class InstanceNamespaces {
  private readonly holders = new Map<number, Holder>();

  constructor(
    private readonly dataDir: string,
    private readonly systemDirs: string[],
  ) {}

  /**
   * Spawns `sh -c command` inside the instance's namespaces (created on first use), in its own process group.
   * `sessionLeader`: the shell leads its own session and process group inside the instance, as sshd makes every
   * session's command (OpenSSH session.c, do_exec_no_pty: setsid() in the child), so `$$` is its group id there.
   */
  spawn(
    id: number,
    dirs: { workspace: string; home: string; bin: string },
    command: string,
    env: Record<string, string>,
    sessionLeader = false,
  ): ChildProcess {
    const h = this.holders.get(id) ?? this.start(id, dirs);
    return spawn('sh', ['-c', ENTER_SCRIPT, 'sh', h.pidFile, h.mnt, command, sessionLeader ? '1' : '0'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  }

  /** Ends every process of the instance (stop, destroy): PID 1 dies, and with it the namespace. */
  stop(id: number): void {
    const h = this.holders.get(id);
    if (!h) return;
    this.holders.delete(id);
    try {
      process.kill(-h.proc.pid!, 'SIGKILL');
    } catch {
      h.proc.kill('SIGKILL');
    }
  }

  stopAll(): void {
    for (const id of [...this.holders.keys()]) this.stop(id);
  }

  private start(id: number, dirs: { workspace: string; home: string; bin: string }): Holder {
    const base = join(this.dataDir, 'mnt');
    const mnt = join(base, `${id}-${Date.now().toString(36)}`);
    const pidFile = `${mnt}.pid`;
    mkdirSync(mnt, { recursive: true });
    rmSync(pidFile, { force: true });
    const proc = spawn(
      'unshare',
      ['-m', '-p', '--fork', '--propagation', 'private', 'sh', '-c', HOLDER_SCRIPT(this.systemDirs), 'sh', mnt, dirs.workspace, dirs.home, dirs.bin],
      {
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
        stdio: 'ignore',
        detached: true,
      },
    );
    const h: Holder = { proc, mnt, pidFile };
    this.holders.set(id, h);
    // The holder's host PID is unshare's child; commands wait for this file before entering.
    const deadline = Date.now() + 10_000;
    const poll = setInterval(() => {
      const children = proc.pid ? `/proc/${proc.pid}/task/${proc.pid}/children` : '';
      const pid = children && existsSync(children) ? readFileSync(children, 'utf8').trim().split(/\s+/)[0] : '';
      // Mounts are done once /proc of the namespace is mounted inside the new root.
      if (pid && existsSync(`/proc/${pid}/root${mnt}/proc/1`)) {
        writeFileSync(pidFile, pid);
        clearInterval(poll);
      } else if (Date.now() > deadline || proc.exitCode !== null) clearInterval(poll);
    }, 10);
    poll.unref();
    proc.on('close', () => {
      clearInterval(poll);
      if (this.holders.get(id) === h) this.holders.delete(id);
      rmSync(pidFile, { force: true });
      rmSync(mnt, { recursive: true, force: true });
    });
    return h;
  }
}
