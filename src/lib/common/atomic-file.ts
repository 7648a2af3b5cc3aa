/**
 * Files that hold what must survive a restart (rotated tokens, the car state): private (file
 * 0600 in a 0700 directory) and replaced atomically, so a crash or a SIGKILL mid-write leaves
 * the previous version whole, never half a file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** The temporary files `writeFileAtomic` uses for `file` start with this (a crash can leave one). */
export function tempPrefix(file: string): string {
  return `.${path.basename(file)}.`;
}

/**
 * Write `chunks` to `file`: into a new 0600 temporary file in the same directory (created 0700
 * when missing), synced to disk, then renamed over `file`. Chunks may come from an async
 * iterable, so a big content can be produced between writes without holding the event loop.
 * On failure the temporary file is removed and the error (with its `code`) is thrown.
 */
export async function writeFileAtomic(file: string, chunks: Iterable<string> | AsyncIterable<string>): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `${tempPrefix(file)}${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let created = false;
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const fh = await fsp.open(tmp, 'wx', 0o600);
    created = true;
    try {
      await fh.chmod(0o600); // whatever the umask
      for await (const chunk of chunks) await fh.writeFile(chunk, 'utf8'); // appends at the current position
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (e) {
    if (created) await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
