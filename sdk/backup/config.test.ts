import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BackupError, InputError } from "../errors";
import { describeStore, parseObjectStoreOptions, resolveCredentials } from "./config";
import { storeError } from "./store";

const base = { endpoint: "http://127.0.0.1:8333", bucket: "backups" };

describe("object store options", () => {
  it("accepts an endpoint, bucket and prefix, and refuses bad ones naming the field", () => {
    expect(parseObjectStoreOptions({ ...base, prefix: "clusters/a" })).toEqual({ ...base, prefix: "clusters/a" });
    const cases: [unknown, RegExp][] = [
      [{ ...base, endpoint: "ftp://x" }, /endpoint: endpoint must be an http/],
      [{ ...base, bucket: "B" }, /bucket: bucket must be 3-63 characters/],
      [{ ...base, prefix: "/a/" }, /prefix: prefix must be path segments/],
      [{ ...base, prefix: "a//b" }, /prefix: prefix must be path segments/],
      [{ ...base, credentials: { kind: "vault" } }, /credentials/],
      [{ ...base, extra: 1 }, /extra|Unrecognized/],
    ];
    for (const [input, re] of cases) {
      const err = (() => {
        try {
          parseObjectStoreOptions(input);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(re);
    }
  });

  it("never echoes a static secret in a validation error", () => {
    const secret = "s3cr3t-value-that-must-not-leak";
    expect(() => parseObjectStoreOptions({ ...base, bucket: "X", credentials: { kind: "static", accessKeyId: "AKID", secretAccessKey: secret } })).toThrow(InputError);
    try {
      parseObjectStoreOptions({ ...base, credentials: { kind: "static", accessKeyId: "AKID", secretAccessKey: 5 } });
    } catch (e) {
      expect((e as Error).message).not.toContain(secret);
    }
  });
});

describe("credentials", () => {
  it("reads the standard variables, or the ones named", () => {
    expect(resolveCredentials(base, { AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "sec" })).toEqual({ accessKeyId: "id", secretAccessKey: "sec" });
    expect(resolveCredentials({ ...base, credentials: { kind: "env", accessKeyIdVar: "K", secretAccessKeyVar: "S" } }, { K: "id", S: "sec" })).toEqual({ accessKeyId: "id", secretAccessKey: "sec" });
  });

  it("names the missing variable, not a value", () => {
    const err = (() => {
      try {
        resolveCredentials(base, { AWS_ACCESS_KEY_ID: "id-visible" });
      } catch (e) {
        return e as BackupError;
      }
      throw new Error("no error");
    })();
    expect(err).toBeInstanceOf(BackupError);
    expect(err.reason).toBe("ACCESS_DENIED");
    expect(err.message).toContain("set AWS_SECRET_ACCESS_KEY");
    expect(err.message).not.toContain("id-visible");
  });

  it("reads a mounted Secret's files, ignoring a trailing newline, and names an unreadable file", () => {
    const dir = mkdtempSync(join(tmpdir(), "setpoint-creds-"));
    try {
      writeFileSync(join(dir, "id"), "AKID\n");
      writeFileSync(join(dir, "secret"), "sec\n");
      expect(resolveCredentials({ ...base, credentials: { kind: "files", accessKeyIdFile: join(dir, "id"), secretAccessKeyFile: join(dir, "secret") } })).toEqual({ accessKeyId: "AKID", secretAccessKey: "sec" });
      expect(() => resolveCredentials({ ...base, credentials: { kind: "files", accessKeyIdFile: join(dir, "id"), secretAccessKeyFile: join(dir, "nope") } })).toThrow(/cannot read the secret access key .* from .*nope: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("describes a store without user info in its endpoint", () => {
    expect(describeStore({ endpoint: "https://user:pw@s3.example.com/", bucket: "b", prefix: "p" })).toBe("s3://b/p at https://s3.example.com");
  });
});

describe("object store errors", () => {
  const where = { endpoint: "http://127.0.0.1:8333", bucket: "b", prefix: "p", key: "wal/x" };
  it("classifies by the SDK's error name, status and network code, and masks the credentials", () => {
    const cases: [unknown, string][] = [
      [Object.assign(new Error("The specified bucket does not exist"), { name: "NoSuchBucket", $metadata: { httpStatusCode: 404 } }), "BUCKET_NOT_FOUND"],
      [Object.assign(new Error("key AKIDLEAK is unknown"), { name: "InvalidAccessKeyId", $metadata: { httpStatusCode: 403 } }), "ACCESS_DENIED"],
      [Object.assign(new Error("sig"), { name: "SignatureDoesNotMatch", $metadata: { httpStatusCode: 403 } }), "ACCESS_DENIED"],
      [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), "ENDPOINT_UNREACHABLE"],
      [Object.assign(new Error("internal AKIDLEAK"), { name: "InternalError", $metadata: { httpStatusCode: 500 } }), "STORE_ERROR"],
    ];
    for (const [err, reason] of cases) {
      const e = storeError(err, "read", where, "SECRETLEAK", "AKIDLEAK");
      expect(e.reason).toBe(reason);
      expect(e.message).toContain("s3://b/p at http://127.0.0.1:8333");
      expect(e.message).toContain("wal/x");
      expect(e.message).not.toContain("AKIDLEAK");
      expect(String((e.cause as Error).message)).not.toContain("AKIDLEAK");
    }
  });
});
