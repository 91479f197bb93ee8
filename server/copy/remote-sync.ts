/**
 * The durability barrier on the instance, as a shell fragment: `sync -f` (syncfs of the file system that
 * holds `quotedPath`, coreutils 8.24+ and busybox) and, only where that option is not understood, a plain
 * `sync`. A write-back error that syncfs reports (EIO, ENOSPC) fails the fragment with its message on stderr:
 * falling back to `sync` on any failure hid it, since a plain `sync` always succeeds.
 */
export function remoteSyncFragment(quotedPath: string): string {
  return (
    `{ vmcp_se=$(sync -f -- ${quotedPath} 2>&1) || case "$vmcp_se" in ` +
    `*"invalid option"*|*"unrecognized option"*|*"unknown option"*|*"illegal option"*) sync ;; ` +
    `*) printf 'sync: %s\\n' "$vmcp_se" >&2; false ;; esac; }`
  );
}
