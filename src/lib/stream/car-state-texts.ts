/**
 * What the car state, its file, units and free reads say to the user (warnings, status text),
 * in one place.
 */

/** Why a state file could not be used (completes "the car state file <file> …"). */
export const STATE_FILE_REASONS = {
  unreadable: (code: string) => `cannot be read (${code})`,
  empty: 'is empty',
  notJson: 'is not JSON (truncated or corrupt)',
  foreign: 'is not a car state file of this package',
  version: (found: unknown, reads: number) => `is format version ${JSON.stringify(found)}; this version reads ${reads}`,
  shape: (detail: string) => `has a record of the wrong shape (${detail})`,
} as const;

export const STATE_FILE_TEXTS = {
  /** The one warning for a file that could not be used. */
  setAside: (file: string, reason: string, aside: string) =>
    `car state file ${file} ${reason}: moved aside to ${aside}; starting with an empty car state`,
  /** …and the file could not even be moved aside: it is kept, never overwritten. */
  notSetAside: (file: string, reason: string, code: string) =>
    `car state file ${file} ${reason}, and it could not be moved aside (${code}): ` +
    'it is left untouched, the car state is kept in memory only until the next restart',
  /** A write failed; once per cause. */
  writeFailed: (file: string, code: string, periodS: number) =>
    `cannot save the car state to ${file}: ${writeCause(code)}; keeping it in memory and trying again every ${periodS} s`,
} as const;

function writeCause(code: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `the disk is full (${code})`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `the directory is read-only or not writable (${code})`;
    case 'ENOTDIR':
      return `a part of the path is a file, not a directory (${code})`;
    default:
      return `the write failed (${code})`;
  }
}

/** `telemetry-in`, vehicle mode: the car state's snapshots at start. */
export const RESTORED_TEXTS = {
  notSent: (why: string) => `restored snapshots could not be sent: ${why}`,
} as const;

/** `vehicle-data`: the free reads (answered from the car state) today, for the status. */
export const FREE_READ_TEXTS = {
  status: (free: number) => `${free} free`,
} as const;
