import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

/**
 * A log file rotated by size: when a write would take `file` past maxBytes, it becomes file.1 (file.1
 * becomes file.2, ...; the oldest beyond `keep` is deleted) and a new file starts. Writes are synchronous,
 * so the last lines before a crash are on disk. The file is closed before renaming, because Windows
 * cannot rename an open file.
 */
export class RotatingLogFile {
  private fd: number;
  private size: number;

  constructor(
    readonly file: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    if (!(maxBytes > 0) || !Number.isInteger(keep) || keep < 1) {
      throw new RangeError('rotating log: maxBytes must be > 0 and keep an integer >= 1');
    }
    mkdirSync(dirname(file), { recursive: true });
    this.fd = openSync(file, 'a');
    this.size = fstatSync(this.fd).size;
  }

  write(chunk: string): void {
    const bytes = Buffer.from(chunk, 'utf8');
    if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
  }

  close(): void {
    closeSync(this.fd);
  }

  private rotate(): void {
    closeSync(this.fd);
    rmSync(`${this.file}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) {
      if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    }
    renameSync(this.file, `${this.file}.1`);
    this.fd = openSync(this.file, 'a');
    this.size = 0;
  }
}
