import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeHeader, extractTar, TarError } from "./tar";

/** A ustar header as PostgreSQL writes it (octal fields; base-256 for a size over 8 GiB when `big`). */
function header(name: string, type: "0" | "5" | "2" | "x", size: number, linkName = "", big = false): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, "utf8");
  b.write("0000600\0", 100);
  b.write("0000000\0", 108);
  b.write("0000000\0", 116);
  if (big) {
    b[124] = 0x80;
    b.writeUIntBE(size, 136 - 6, 6);
  } else b.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  b.write("00000000000\0", 136);
  b.write(type, 156);
  b.write(linkName, 157);
  b.write("ustar\x0000", 257);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return b;
}

function file(name: string, body: string): Buffer {
  const data = Buffer.from(body);
  return Buffer.concat([header(name, "0", data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

async function* chunked(buf: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe("extractTar", () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const target = (): string => {
    // The extraction target does not exist yet: its parent is the directory to remove.
    const parent = mkdtempSync(join(tmpdir(), "setpoint-tar-"));
    dirs.push(parent);
    return join(parent, "out");
  };

  it("writes files, directories and links whatever the chunking, and counts content bytes", async () => {
    const archive = Buffer.concat([header("base/", "5", 0), file("base/1/PG_VERSION", "17\n"), file("PG_VERSION", "17\n"), header("pg_tblspc/16385", "2", 0, "/data/ts"), Buffer.alloc(1024)]);
    for (const size of [1, 7, 512, 100_000]) {
      const dir = target();
      expect(await extractTar(chunked(archive, size), dir)).toBe(6);
      expect(readFileSync(join(dir, "base/1/PG_VERSION"), "utf8")).toBe("17\n");
      expect(readlinkSync(join(dir, "pg_tblspc/16385"))).toBe("/data/ts");
      expect(statSync(join(dir, "PG_VERSION")).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    }
  });

  it("rewrites link targets when asked (a moved tablespace)", async () => {
    const dir = target();
    await extractTar(chunked(header("pg_tblspc/1", "2", 0, "/old"), 512), dir, undefined, { linkTarget: (_n, t) => (t === "/old" ? "/new" : t) });
    expect(readlinkSync(join(dir, "pg_tblspc/1"))).toBe("/new");
  });

  it("refuses entries escaping the target, unknown types, bad checksums and a cut stream", async () => {
    await expect(extractTar(chunked(file("../evil", "x"), 512), target())).rejects.toBeInstanceOf(TarError);
    await expect(extractTar(chunked(header("x", "x", 0), 512), target())).rejects.toThrow(/type "x"/);
    const corrupt = header("f", "0", 0);
    corrupt[0] = "g".charCodeAt(0);
    await expect(extractTar(chunked(corrupt, 512), target())).rejects.toThrow(/checksum/);
    await expect(extractTar(chunked(file("f", "hello").subarray(0, 514), 512), target())).rejects.toThrow(/ended inside entry "f"/);
  });

  it("reads base-256 sizes (files over 8 GiB)", () => {
    expect(decodeHeader(header("big", "0", 9 * 1024 ** 3, "", true)).size).toBe(9 * 1024 ** 3);
  });
});
