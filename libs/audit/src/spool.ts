import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_SPOOL_MAX_RECORDS } from '@tapgate/config';
import { createLogger } from '@tapgate/telemetry';
import { AuditInput } from './chain';
import { AuditError } from './errors';

const log = createLogger('audit-spool');

/** Default bound of the spool (records waiting); about 1 KiB each in memory and on disk. */
export const DEFAULT_SPOOL_MAX_RECORDS = AUDIT_SPOOL_MAX_RECORDS;

/** One record waiting to be appended. */
export interface SpoolEntry {
  /** The JetStream message id (`Nats-Msg-Id`) of every attempt to append it. */
  readonly id: string;
  readonly input: AuditInput;
  /** When it was enqueued (ms since the epoch). */
  readonly enqueuedAt: number;
  /**
   * Sequences where an attempt whose outcome is unknown (timeout, lost connection) may have stored it.
   * Each attempt is conditional on the stream's last sequence, so it can only land right after it.
   */
  readonly landed: Set<number>;
}

export interface SpoolOptions {
  /** Folder of the journal; undefined = memory only (lost with the process). */
  dir?: string;
  /** File name stem: `<name>.jsonl` and `<name>.lock`. One process per journal. */
  name?: string;
  maxRecords?: number;
}

/** Journal lines, one JSON object each, appended and fsync'd in batches. */
type JournalLine =
  | { op: 'add'; id: string; enqueuedAt: number; input: AuditInput }
  | { op: 'try'; id: string; seq: number }
  | { op: 'done'; id: string; seq: number };

/** Lines written since the journal was last rewritten, beyond which it is compacted. */
const COMPACT_AFTER_LINES = 1_000;

/**
 * The records waiting to be appended, oldest first: in memory and, with a folder, in an append-only
 * journal that survives a restart (add, the sequence of each attempt, done). A crash can leave a torn
 * last line; it is ignored, and its record was never acknowledged as spooled on disk.
 */
export class AuditSpool {
  private readonly entries: SpoolEntry[] = [];
  private readonly byId = new Map<string, SpoolEntry>();
  readonly maxRecords: number;
  private readonly file: string | undefined;
  private readonly lock: string | undefined;
  private handle: Promise<FileHandle> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private batch: string[] | undefined;
  private linesSinceCompaction = 0;
  private closed = false;

  constructor(opts: SpoolOptions = {}) {
    this.maxRecords = opts.maxRecords ?? DEFAULT_SPOOL_MAX_RECORDS;
    if (opts.dir === undefined) return;
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const stem = opts.name ?? 'audit-spool';
    this.file = join(opts.dir, `${stem}.jsonl`);
    this.lock = join(opts.dir, `${stem}.lock`);
    takeLock(this.lock);
    try {
      this.replay(this.file);
      // Start from a compact journal holding exactly what is waiting.
      this.rewriteSync();
    } catch (e) {
      rmSync(this.lock, { force: true });
      throw e;
    }
    this.handle = open(this.file, 'a', 0o600);
  }

  /** Records waiting. */
  get size(): number {
    return this.entries.length;
  }

  get durable(): boolean {
    return this.file !== undefined;
  }

  /** The oldest waiting record. */
  peek(): SpoolEntry | undefined {
    return this.entries[0];
  }

  /** Adds a record; undefined when the spool is full (the caller reports it). */
  add(id: string, input: AuditInput): SpoolEntry | undefined {
    if (this.entries.length >= this.maxRecords) return undefined;
    const entry: SpoolEntry = { id, input, enqueuedAt: Date.now(), landed: new Set() };
    this.entries.push(entry);
    this.byId.set(id, entry);
    void this.journal({ op: 'add', id, enqueuedAt: entry.enqueuedAt, input });
    return entry;
  }

  /** Records, durably, that an attempt to store `entry` at `seq` is about to be made. */
  async attempt(entry: SpoolEntry, seq: number): Promise<void> {
    entry.landed.add(seq);
    await this.journal({ op: 'try', id: entry.id, seq });
  }

  /** `entry` is stored at `seq`: it leaves the spool. */
  async done(entry: SpoolEntry, seq: number): Promise<void> {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
    this.byId.delete(entry.id);
    await this.journal({ op: 'done', id: entry.id, seq });
    if (
      this.entries.length === 0 ||
      this.linesSinceCompaction > COMPACT_AFTER_LINES + 4 * this.entries.length
    ) {
      await this.compact();
    }
  }

  /** Resolves once every record added so far is on disk (at once without a folder). */
  async persisted(): Promise<void> {
    await this.writing;
  }

  /** Waits for pending journal writes and closes the file; the journal stays for the next process. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writing;
    if (this.handle) await (await this.handle).close().catch(() => undefined);
    if (this.lock) rmSync(this.lock, { force: true });
  }

  /**
   * Appends a line to the journal; resolves once it is on disk. Lines arriving while a write is under
   * way share the next write and fsync (group commit). A failing disk is logged, never thrown: the
   * record is still in memory and will be appended, only not restart-proof.
   */
  private journal(line: JournalLine): Promise<void> {
    if (!this.handle || this.closed) return Promise.resolve();
    if (this.batch) {
      this.batch.push(JSON.stringify(line));
      return this.writing;
    }
    const lines = [JSON.stringify(line)];
    this.batch = lines;
    this.writing = this.writing.then(async () => {
      this.batch = undefined;
      try {
        const fh = await this.handle!;
        await fh.appendFile(`${lines.join('\n')}\n`);
        await fh.datasync();
        this.linesSinceCompaction += lines.length;
      } catch (e) {
        log.error({ err: (e as Error).message, file: this.file }, 'audit spool journal write failed');
      }
    });
    return this.writing;
  }

  private compact(): Promise<void> {
    if (!this.handle || this.closed) return Promise.resolve();
    this.writing = this.writing.then(async () => {
      try {
        await (await this.handle!).close();
        this.rewriteSync();
      } catch (e) {
        log.error({ err: (e as Error).message, file: this.file }, 'audit spool journal compaction failed');
      }
      this.handle = open(this.file!, 'a', 0o600);
      await this.handle.catch(() => undefined);
    });
    return this.writing;
  }

  /** Writes the waiting records to a fresh journal and renames it into place (atomic, fsync'd). */
  private rewriteSync(): void {
    const file = this.file!;
    const lines: string[] = [];
    for (const e of this.entries) {
      lines.push(JSON.stringify({ op: 'add', id: e.id, enqueuedAt: e.enqueuedAt, input: e.input }));
      for (const seq of e.landed) lines.push(JSON.stringify({ op: 'try', id: e.id, seq }));
    }
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o600, flush: true });
    renameSync(tmp, file);
    fsyncDir(file);
    this.linesSinceCompaction = 0;
  }

  private replay(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new AuditError('unavailable', `cannot read the audit spool ${file}: ${(e as Error).message}`);
    }
    const lines = text.split('\n');
    lines.forEach((text, i) => {
      if (text === '') return;
      let line: JournalLine;
      try {
        line = JSON.parse(text) as JournalLine;
      } catch {
        // A torn last line is a crash mid-write; anything else is damage worth a loud line.
        if (i < lines.length - 1) {
          log.error({ file, line: i + 1 }, 'audit spool: unreadable journal line skipped');
        }
        return;
      }
      this.apply(line, file, i + 1);
    });
    if (this.entries.length > 0) {
      log.warn(
        { file, waiting: this.entries.length },
        'audit spool: records from an earlier run are waiting',
      );
    }
  }

  private apply(line: JournalLine, file: string, lineNo: number): void {
    if (line.op === 'add') {
      const parsed = AuditInput.safeParse(line.input);
      if (!parsed.success || typeof line.id !== 'string' || this.byId.has(line.id)) {
        if (!this.byId.has(line.id)) log.error({ file, line: lineNo }, 'audit spool: invalid record skipped');
        return;
      }
      // A restart never drops what was spooled, even past the bound.
      const entry: SpoolEntry = {
        id: line.id,
        input: parsed.data,
        enqueuedAt: Number(line.enqueuedAt) || Date.now(),
        landed: new Set(),
      };
      this.entries.push(entry);
      this.byId.set(entry.id, entry);
    } else if (line.op === 'try') {
      if (Number.isSafeInteger(line.seq)) this.byId.get(line.id)?.landed.add(line.seq);
    } else if (line.op === 'done') {
      const entry = this.byId.get(line.id);
      if (entry) {
        this.entries.splice(this.entries.indexOf(entry), 1);
        this.byId.delete(line.id);
      }
    }
  }
}

function fsyncDir(file: string): void {
  const dir = join(file, '..');
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    // fsync on a directory makes the rename durable (Linux); not supported everywhere.
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** One process per journal: a lock file holding the owner's pid; a dead owner's lock is taken over. */
function takeLock(lock: string): void {
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AuditError('unavailable', `cannot lock the audit spool ${lock}: ${(e as Error).message}`);
      }
    }
    const owner = Number(readFileSync(lock, 'utf8').trim());
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new AuditError('spool_locked', `audit spool ${lock} is used by process ${owner}`);
    }
    rmSync(lock, { force: true });
  }
  throw new AuditError('spool_locked', `cannot take the audit spool lock ${lock}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
