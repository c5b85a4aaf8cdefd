/**
 * Extraction of the tar archives a PostgreSQL server sends for a base backup. The server writes
 * POSIX ustar headers itself (src/port/tar.c): regular files, directories and symbolic links, names
 * of at most 99 bytes in the name field, sizes in octal or, above 8 GiB, in base-256. That is all
 * this reader accepts; anything else (pax or GNU extension headers, hard links, devices) is an
 * error naming the entry, never silently skipped, because a data directory missing a file is a
 * corrupt clone.
 */
import { closeSync, fchownSync, lchownSync, mkdirSync, openSync, symlinkSync, writeSync } from "node:fs";
import { dirname, join, normalize, sep } from "node:path";
import { SetpointError } from "../errors";

const BLOCK = 512;

/** A tar archive could not be extracted: malformed, an unsupported entry, or a path escaping the target. */
export class TarError extends SetpointError {
  /** The entry involved, when there is one. */
  readonly entry: string | undefined;

  constructor(message: string, entry?: string) {
    super("TAR_INVALID", message);
    this.entry = entry;
  }
}

/** Who extracted entries belong to (the server's uid when a root process extracts for it). */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** One header, decoded. */
interface Header {
  readonly name: string;
  readonly mode: number;
  readonly size: number;
  readonly type: "file" | "directory" | "symlink";
  readonly linkName: string;
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString("utf8");
}

/** An octal number field, or a base-256 one (high bit of the first byte set) as PostgreSQL writes for large values. */
function numberField(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(block, start, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Decodes one header block. Exported for tests of the format's edge cases.
 * @throws {TarError} on a bad checksum or an entry type a server never sends.
 */
export function decodeHeader(block: Buffer): Header {
  const stored = numberField(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  const name = cString(block, 0, 100);
  if (sum !== stored) throw new TarError(`tar header checksum mismatch at entry ${JSON.stringify(name)} (stored ${stored}, computed ${sum}): the stream is corrupt`, name);
  const flag = String.fromCharCode(block[156]!);
  const type = flag === "0" || flag === "\0" ? "file" : flag === "5" ? "directory" : flag === "2" ? "symlink" : undefined;
  if (type === undefined) throw new TarError(`tar entry ${JSON.stringify(name)} has type ${JSON.stringify(flag)}; a PostgreSQL base backup has only files, directories and symbolic links`, name);
  return { name, mode: numberField(block, 100, 8) & 0o7777, size: type === "file" ? numberField(block, 124, 12) : 0, type, linkName: cString(block, 157, 100) };
}

/** The absolute path of `name` inside `dir`. @throws {TarError} when it would leave `dir`. */
function inside(dir: string, name: string): string {
  const relative = normalize(name).replace(/\/+$/, "");
  if (relative === "" || relative === ".") return dir;
  if (relative.startsWith("/") || relative === ".." || relative.startsWith(`..${sep}`)) {
    throw new TarError(`tar entry ${JSON.stringify(name)} would be written outside the target directory`, name);
  }
  return join(dir, relative);
}

/** Options of {@link extractTar}. */
export interface ExtractOptions {
  /** Rewrites a symbolic link's target (a tablespace moved to another location); identity by default. */
  readonly linkTarget?: (name: string, target: string) => string;
}

/**
 * A push-based tar extractor: `write` takes the archive's bytes in any chunking and writes entries
 * synchronously (so a caller may pass buffers it reuses), `end` checks the archive was complete.
 * Directories are 0700, as PostgreSQL wants its data directory; files keep the archive's bits.
 */
export class TarExtractor {
  private pending: Buffer = Buffer.alloc(0);
  private file: { fd: number; remaining: number; padding: number; name: string } | undefined;
  private skip = 0;
  private ended = false;
  /** Content bytes written so far. */
  bytes = 0;

  /** Creates `dir` (mode 0700) when absent. @param owner chown every entry to it (a root process extracting for the server's user). */
  constructor(
    private readonly dir: string,
    private readonly owner?: Owner,
    private readonly options: ExtractOptions = {},
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (owner) lchownSync(dir, owner.uid, owner.gid);
  }

  private openEntry(header: Header): void {
    const { owner } = this;
    const path = inside(this.dir, header.name);
    if (header.type === "directory") {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      if (owner) lchownSync(path, owner.uid, owner.gid);
      return;
    }
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (header.type === "symlink") {
      symlinkSync(this.options.linkTarget ? this.options.linkTarget(header.name, header.linkName) : header.linkName, path);
      if (owner) lchownSync(path, owner.uid, owner.gid);
      return;
    }
    const fd = openSync(path, "wx", header.mode & 0o777);
    if (owner) fchownSync(fd, owner.uid, owner.gid);
    const padding = (BLOCK - (header.size % BLOCK)) % BLOCK;
    if (header.size === 0) {
      closeSync(fd);
      this.skip = padding;
    } else this.file = { fd, remaining: header.size, padding, name: header.name };
  }

  /** Writes what `chunk` completes. @throws {TarError} on a malformed archive. */
  write(chunk: Buffer): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = Buffer.alloc(0);
    while (buf.length > 0) {
      const file = this.file;
      if (file) {
        const n = Math.min(file.remaining, buf.length);
        writeSync(file.fd, buf, 0, n);
        this.bytes += n;
        file.remaining -= n;
        buf = buf.subarray(n);
        if (file.remaining === 0) {
          closeSync(file.fd);
          this.skip = file.padding;
          this.file = undefined;
        }
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length);
        this.skip -= n;
        buf = buf.subarray(n);
        continue;
      }
      if (this.ended) {
        // After the end-of-archive marker only zero padding may follow.
        if (buf.some((b) => b !== 0)) throw new TarError("data after the end of the tar archive");
        return;
      }
      if (buf.length < BLOCK) {
        this.pending = Buffer.from(buf);
        return;
      }
      const block = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (isZeroBlock(block)) this.ended = true;
      else this.openEntry(decodeHeader(block));
    }
  }

  /** Closes what is open. @throws {TarError} when the archive ended inside an entry or a header. */
  end(): number {
    const file = this.file;
    if (file) {
      closeSync(file.fd);
      this.file = undefined;
      throw new TarError(`the tar archive ended inside entry ${JSON.stringify(file.name)} (${file.remaining} bytes missing): the stream was cut`, file.name);
    }
    if (this.pending.length > 0 || this.skip > 0) throw new TarError("the tar archive ended inside a header block: the stream was cut");
    return this.bytes;
  }

  /** Closes an open file after a failure elsewhere (the caller removes what was written). */
  abandon(): void {
    if (this.file) closeSync(this.file.fd);
    this.file = undefined;
  }
}

/**
 * Extracts a tar stream into `dir` (see {@link TarExtractor}). Returns the content bytes written.
 * @throws {TarError} on a malformed or truncated archive.
 */
export async function extractTar(data: AsyncIterable<Buffer>, dir: string, owner?: Owner, options: ExtractOptions = {}): Promise<number> {
  const extractor = new TarExtractor(dir, owner, options);
  try {
    for await (const chunk of data) extractor.write(chunk);
  } catch (err) {
    extractor.abandon();
    throw err;
  }
  return extractor.end();
}
