import { createHash, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { gzipBlocks } from "./compress";

async function* chunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe("gzipBlocks", () => {
  // Hex text compresses about like table data; random bytes mark where each block starts.
  const data = Buffer.concat(Array.from({ length: 40 }, (_, i) => Buffer.from(createHash("sha256").update(String(i)).digest("hex").repeat(1000) + randomBytes(64).toString("hex"))));

  it("yields one gzip member per block, in order, whose concatenation gunzips to the input", async () => {
    const members = await collect(gzipBlocks(chunks(data, 7_777), { blockBytes: 100_000, threads: 3 }));
    expect(members).toHaveLength(Math.ceil(data.length / 100_000));
    for (const [i, m] of members.entries()) expect(gunzipSync(m).equals(data.subarray(i * 100_000, (i + 1) * 100_000))).toBe(true);
    const whole = Buffer.concat(members);
    expect(gunzipSync(whole).equals(data)).toBe(true);
    expect(whole.length).toBeLessThan(data.length / 2);
  });

  it("gives the same output with one thread as with several", async () => {
    const one = Buffer.concat(await collect(gzipBlocks(chunks(data, 65_536), { blockBytes: 50_000, threads: 1 })));
    const four = Buffer.concat(await collect(gzipBlocks(chunks(data, 65_536), { blockBytes: 50_000, threads: 4 })));
    expect(four.equals(one)).toBe(true);
  });

  it("an empty source is one empty member (a valid gzip file)", async () => {
    const members = await collect(gzipBlocks(chunks(Buffer.alloc(0), 1)));
    expect(gunzipSync(Buffer.concat(members)).length).toBe(0);
  });

  it("passes the source's error on, and refuses bad options", async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield data.subarray(0, 200_000);
      throw new Error("the stream broke");
    }
    await expect(collect(gzipBlocks(failing(), { blockBytes: 50_000, threads: 2 }))).rejects.toThrow("the stream broke");
    await expect(collect(gzipBlocks(chunks(data, 10), { level: 0 }))).rejects.toThrow(/level must be an integer from 1 to 9/);
    await expect(collect(gzipBlocks(chunks(data, 10), { threads: 0 }))).rejects.toThrow(/threads must be a positive integer/);
  });
});
