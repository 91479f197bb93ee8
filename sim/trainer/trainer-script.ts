import { createHash } from 'node:crypto';

export const TRAINER_COMMAND = 'vast-sim-trainer';
export const TRAINER_SEED = 'vast-sim-trainer-v1';
/** The final output repeats the last state this many times (a file of a few KB with a known hash). */
export const OUTPUT_REPEAT = 256;

/**
 * A deterministic "training run" for simulated instances (POSIX sh + coreutils): the state after
 * step i is sha256("<state>:<i>"). Every K steps it writes a checkpoint directory whose manifest is
 * written last and moved into place in one rename; it resumes from $RESUME_FROM; on SIGTERM it
 * checkpoints the current step and exits 143. The final output depends only on the step count, so a
 * run resumed any number of times ends with exactly the bytes of an uninterrupted one.
 */
export const TRAINER_SCRIPT = `#!/bin/sh
# vast-sim-trainer --steps N --every K --out DIR --ckpt DIR [--step-ms MS]
steps=20; every=5; out=/workspace/out; ckpt=/workspace/checkpoints; stepms=100
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2;; --every) every=$2; shift 2;; --out) out=$2; shift 2;;
    --ckpt) ckpt=$2; shift 2;; --step-ms) stepms=$2; shift 2;;
    *) echo "vast-sim-trainer: unknown argument $1" >&2; exit 2;;
  esac
done
secs="$((stepms / 1000)).$(printf %03d $((stepms % 1000)))"
hash() { sha256sum | cut -c1-64; }
state=${TRAINER_SEED}
i=0
if [ -n "$RESUME_FROM" ]; then
  if [ ! -f "$RESUME_FROM/manifest" ]; then echo "vast-sim-trainer: $RESUME_FROM has no manifest" >&2; exit 3; fi
  i=$(sed -n 's/^step=//p' "$RESUME_FROM/manifest")
  want=$(sed -n 's/^state_sha256=//p' "$RESUME_FROM/manifest")
  if [ "$(hash < "$RESUME_FROM/state")" != "$want" ]; then echo "vast-sim-trainer: checkpoint $RESUME_FROM is corrupt" >&2; exit 3; fi
  state=$(cat "$RESUME_FROM/state")
  echo "resumed from $RESUME_FROM at step $i"
fi
checkpoint() {
  d="$ckpt/step-$(printf %06d "$1")"
  rm -rf "$d.tmp"; mkdir -p "$d.tmp"
  printf '%s' "$state" > "$d.tmp/state"
  printf 'step=%d\\nstate_sha256=%s\\n' "$1" "$(hash < "$d.tmp/state")" > "$d.tmp/manifest.tmp"
  mv "$d.tmp/manifest.tmp" "$d.tmp/manifest"
  rm -rf "$d"; mv "$d.tmp" "$d"
}
term=0
trap 'term=1' TERM INT
while [ "$i" -lt "$steps" ]; do
  if [ "$term" = 1 ]; then checkpoint "$i"; echo "SIGTERM at step $i: checkpoint written, exiting"; exit 143; fi
  i=$((i + 1))
  state=$(printf '%s:%d' "$state" "$i" | hash)
  echo "step $i/$steps state $(printf %.8s "$state")"
  sleep "$secs"
  if [ $((i % every)) -eq 0 ]; then checkpoint "$i"; echo "checkpoint step $i"; fi
done
mkdir -p "$out"
n=0; : > "$out/model.bin.tmp"
while [ $n -lt ${OUTPUT_REPEAT} ]; do printf '%s\\n' "$state" >> "$out/model.bin.tmp"; n=$((n + 1)); done
mv "$out/model.bin.tmp" "$out/model.bin"
echo "done: $steps steps, output $out/model.bin"
`;

/** The trainer's state after `steps` steps, computed here to check its output. */
export function trainerState(steps: number): string {
  let state = TRAINER_SEED;
  for (let i = 1; i <= steps; i++) state = createHash('sha256').update(`${state}:${i}`).digest('hex');
  return state;
}

/** The exact bytes of model.bin after a run of `steps` steps, however often it was interrupted. */
export function trainerOutput(steps: number): Buffer {
  return Buffer.from(`${trainerState(steps)}\n`.repeat(OUTPUT_REPEAT));
}
