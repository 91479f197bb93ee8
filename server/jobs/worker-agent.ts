import { InputError } from '../errors.js';
import { shellQuote } from '../ssh/ssh-session.js';

/** Where the agent keeps its files on the instance (heartbeat, numbered logs, exit code). */
export const AGENT_DIR = '/root/.vast-job';

export interface AgentSpec {
  command: string;
  checkpointDir: string;
  graceSeconds: number;
  heartbeatSeconds: number;
}

/**
 * The worker agent (POSIX sh). It writes a heartbeat counter, waits for the supervisor's `go` file
 * (inputs and the checkpoint are in place), runs the command with RESUME_FROM set to the newest
 * complete checkpoint (a directory with its manifest), one numbered log file per launch, and records
 * the exit code. SIGTERM is forwarded to the command and its children, then SIGKILL after the grace.
 * It is started by onstart, so it runs at every container start and owes nothing to an SSH session;
 * it stays in onstart's process group so that stopping the container ends it.
 */
const AGENT_SCRIPT = `#!/bin/sh
J="$(dirname "$0")"
. "$J/job.env"
mkdir -p "$J/logs"
echo $$ > "$J/agent.pid"
( n=0; while :; do n=$((n + 1)); echo "$n $(date +%s)" > "$J/heartbeat.tmp"; mv "$J/heartbeat.tmp" "$J/heartbeat"; sleep "$HEARTBEAT_SECONDS"; done ) &
HB=$!
trap 'kill $HB 2>/dev/null' EXIT
while [ ! -f "$J/go" ]; do sleep 1; done
if [ -f "$J/exit_code" ]; then exit 0; fi
RESUME_FROM=
for d in $(ls -d "$CHECKPOINT_DIR"/step-* 2>/dev/null | grep -v '\\.tmp$' | sort -r); do
  if [ -f "$d/manifest" ]; then RESUME_FROM=$d; break; fi
done
export RESUME_FROM
n=$(ls "$J/logs" | wc -l); log="$J/logs/$(printf %04d $((n + 1))).log"
echo "agent: launch $((n + 1)), RESUME_FROM=\${RESUME_FROM:-none}" > "$log"
sh -c "$JOB_COMMAND" >> "$log" 2>&1 &
CHILD=$!
echo $CHILD > "$J/child.pid"
# The command and all its descendants, from /proc with shell builtins only (no ps/awk in many images).
tree() {
  root=$1; all=
  for s in /proc/[0-9]*/stat; do read -r l 2>/dev/null < "$s" || continue; r=\${l##*) }; set -- $r; all="$all \${l%% *}:$2"; done
  want=" $root "; found=$root; changed=1
  while [ $changed = 1 ]; do
    changed=0
    for e in $all; do
      p=\${e%%:*}; pp=\${e#*:}
      case "$want" in *" $pp "*) case "$want" in *" $p "*) ;; *) want="$want$p "; found="$found $p"; changed=1;; esac;; esac
    done
  done
  echo $found
}
TERMED=0
trap 'TERMED=1; PIDS=$(tree $CHILD); echo "agent: SIGTERM, forwarding (grace $GRACE_SECONDS s)" >> "$log"; kill -TERM $PIDS 2>/dev/null; ( sleep "$GRACE_SECONDS"; kill -KILL $PIDS 2>/dev/null ) &' TERM
wait $CHILD; rc=$?
if [ "$TERMED" = 1 ]; then
  wait $CHILD; r=$?; [ $r -ne 127 ] && rc=$r
  # The shell may end before the program it started: wait for every process that got the signal.
  while :; do alive=0; for p in $PIDS; do kill -0 $p 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 1; done
  touch "$J/terminated"
fi
echo "agent: command exited with $rc" >> "$log"
echo $rc > "$J/exit_code.tmp"; mv "$J/exit_code.tmp" "$J/exit_code"
`;

const EOF_MARK = 'VAST_JOB_EOF';

/** The onstart text: writes the agent and its settings, then runs it in the foreground. */
export function agentOnstart(spec: AgentSpec, dir = AGENT_DIR): string {
  if (spec.command.includes(EOF_MARK)) throw new InputError(`command must not contain ${EOF_MARK}.`);
  const env = [
    `JOB_COMMAND=${shellQuote(spec.command)}`,
    `CHECKPOINT_DIR=${shellQuote(spec.checkpointDir)}`,
    `GRACE_SECONDS=${Math.max(1, Math.round(spec.graceSeconds))}`,
    `HEARTBEAT_SECONDS=${Math.max(1, Math.round(spec.heartbeatSeconds))}`,
  ].join('\n');
  return [
    `mkdir -p ${dir}`,
    `cat > ${dir}/job.env <<'${EOF_MARK}'`,
    env,
    EOF_MARK,
    `cat > ${dir}/agent.sh <<'${EOF_MARK}'`,
    AGENT_SCRIPT.trimEnd(),
    EOF_MARK,
    `exec sh ${dir}/agent.sh`,
    '',
  ].join('\n');
}
