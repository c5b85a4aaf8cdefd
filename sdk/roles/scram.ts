/**
 * SCRAM-SHA-256 password verifiers (RFC 5802 / RFC 7677) in PostgreSQL's stored form
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Setpoint sends a verifier, never the
 * password, in `CREATE/ALTER ROLE ... PASSWORD`, so the password cannot reach the server's log,
 * `pg_stat_statements` or an error message; and it checks a stored verifier against the desired
 * password without changing anything, so an unchanged password is never re-set.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

const ITERATIONS = 4096;

type Range = readonly [number, number];
const inRanges = (cp: number, ranges: readonly Range[]): boolean => ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
/** SASLprep (RFC 4013) maps these to a space (non-ASCII spaces)... */
const NON_ASCII_SPACE: readonly Range[] = [[0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000]];
/** ...removes these ("commonly mapped to nothing")... */
const MAPPED_TO_NOTHING: readonly Range[] = [[0xad, 0xad], [0x34f, 0x34f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d], [0x2060, 0x2060], [0xfe00, 0xfe0f], [0xfeff, 0xfeff]];
/** ...and prohibits these in its output (controls, private use, surrogates, directional marks): PostgreSQL then hashes the raw password. */
const PROHIBITED: readonly Range[] = [[0x0, 0x1f], [0x7f, 0x9f], [0x340, 0x341], [0x200e, 0x200f], [0x202a, 0x202e], [0x206a, 0x206f], [0xe000, 0xf8ff], [0xfff9, 0xfffd], [0xd800, 0xdfff], [0xf0000, 0x10ffff]];

/** The password as PostgreSQL normalizes it before hashing: SASLprep when it succeeds, else the raw password. */
export function saslPrep(password: string): string {
  let mapped = "";
  for (const ch of password) {
    const cp = ch.codePointAt(0)!;
    if (inRanges(cp, MAPPED_TO_NOTHING)) continue;
    mapped += inRanges(cp, NON_ASCII_SPACE) ? " " : ch;
  }
  const prepared = mapped.normalize("NFKC");
  for (const ch of prepared) if (inRanges(ch.codePointAt(0)!, PROHIBITED)) return password;
  return prepared === "" ? password : prepared;
}

function keys(password: string, salt: Buffer, iterations: number): { storedKey: Buffer; serverKey: Buffer } {
  const salted = pbkdf2Sync(Buffer.from(saslPrep(password), "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  return { storedKey: createHash("sha256").update(clientKey).digest(), serverKey: createHmac("sha256", salted).update("Server Key").digest() };
}

/** A new verifier of `password` (random salt). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations: number = ITERATIONS): string {
  const { storedKey, serverKey } = keys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Whether the stored `verifier` (pg_authid.rolpassword) accepts `password`; false for MD5 or none. */
export function verifierMatches(verifier: string | null, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier ?? "");
  if (!m) return false;
  const { storedKey, serverKey } = keys(password, Buffer.from(m[2]!, "base64"), Number(m[1]));
  const stored = Buffer.from(m[3]!, "base64");
  const server = Buffer.from(m[4]!, "base64");
  return stored.length === 32 && server.length === 32 && timingSafeEqual(stored, storedKey) && timingSafeEqual(server, serverKey);
}
