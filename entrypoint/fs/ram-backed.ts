// Whether a path lives on a RAM-backed file system (tmpfs or ramfs), read from
// statfs(2)'s magic number: a rendered config must never reach a disk.
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

export interface FsKind {
  ramBacked: boolean;
  /** statfs type as hex, for messages. */
  type: string;
}

/** The file system type of the directory that holds `file`. */
export function fileSystemOf(file: string): FsKind {
  const { type } = statfsSync(dirname(file));
  // statfs reports the magic as a signed or unsigned number depending on the platform.
  const magic = type >>> 0;
  return { ramBacked: magic === TMPFS_MAGIC || magic === RAMFS_MAGIC, type: `0x${magic.toString(16)}` };
}
