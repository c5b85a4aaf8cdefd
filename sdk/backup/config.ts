import { readFileSync } from "node:fs";
import { z } from "zod";
import { BackupError, InputError } from "../errors";

/**
 * Where the credentials of an object store come from. A Kubernetes Secret reaches a process either
 * as environment variables (`secretKeyRef`) or as files (a mounted Secret volume, one file per key).
 */
export type CredentialSource =
  /** Environment variables. @default AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY */
  | { kind: "env"; accessKeyIdVar?: string; secretAccessKeyVar?: string }
  /** Files holding one value each (a mounted Secret's keys); trailing newlines are ignored. */
  | { kind: "files"; accessKeyIdFile: string; secretAccessKeyFile: string }
  /** Values given in code. */
  | { kind: "static"; accessKeyId: string; secretAccessKey: string };

/** An S3-compatible bucket (and a prefix in it) that holds one cluster's WAL archive and base backups. */
export interface ObjectStoreOptions {
  /** Endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:8333`. */
  endpoint: string;
  /** Signing region. @default "us-east-1" */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. @default true */
  forcePathStyle?: boolean;
  /** Bucket name. */
  bucket: string;
  /** Key prefix of this cluster's objects, without leading or trailing `/`. @default "" (bucket root) */
  prefix?: string;
  /** Where the access key and secret come from. @default { kind: "env" } */
  credentials?: CredentialSource;
}

/** Resolved credentials. Never logged, never part of an error or of `describeStore`. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const credentialSource = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("env"), accessKeyIdVar: z.string().min(1).optional(), secretAccessKeyVar: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal("files"), accessKeyIdFile: z.string().min(1), secretAccessKeyFile: z.string().min(1) }).strict(),
  z.object({ kind: z.literal("static"), accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).strict(),
]);

/** Bucket names as S3 allows them (3–63 of a-z, 0-9, `.`, `-`; starting and ending alphanumeric). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const objectStoreOptions = z
  .object({
    endpoint: z.url({ protocol: /^https?$/, error: "endpoint must be an http:// or https:// URL" }),
    region: z.string().min(1).optional(),
    forcePathStyle: z.boolean().optional(),
    bucket: z.string().regex(BUCKET, "bucket must be 3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or digit"),
    prefix: z
      .string()
      .regex(/^(?:[A-Za-z0-9!_.*'()-]+(?:\/[A-Za-z0-9!_.*'()-]+)*)?$/, "prefix must be path segments of letters, digits and !_.*'()- separated by single '/', without a leading or trailing '/'")
      .optional(),
    credentials: credentialSource.optional(),
  })
  .strict();

/**
 * Validates object store options read from outside (a config file, CLI flags, a CRD).
 * @throws {InputError} naming the field and what is allowed (never echoing a credential).
 */
export function parseObjectStoreOptions(input: unknown, source = "object store options"): ObjectStoreOptions {
  const result = objectStoreOptions.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join(".");
  // A message names the field and the rule; zod's default texts never include the value.
  throw new InputError(`${source}: ${path || "(root)"}: ${issue.message}`, { propertyPath: path });
}

/**
 * Reads the credentials from their source.
 * @throws {BackupError} ACCESS_DENIED naming the variable or file that is missing or empty (never its value).
 */
export function resolveCredentials(options: ObjectStoreOptions, env: NodeJS.ProcessEnv = process.env): Credentials {
  const source = options.credentials ?? { kind: "env" };
  const where = { endpoint: options.endpoint, bucket: options.bucket };
  switch (source.kind) {
    case "static":
      return { accessKeyId: source.accessKeyId, secretAccessKey: source.secretAccessKey };
    case "env": {
      const idVar = source.accessKeyIdVar ?? "AWS_ACCESS_KEY_ID";
      const secretVar = source.secretAccessKeyVar ?? "AWS_SECRET_ACCESS_KEY";
      const accessKeyId = env[idVar];
      const secretAccessKey = env[secretVar];
      const missing = [!accessKeyId && idVar, !secretAccessKey && secretVar].filter(Boolean);
      if (missing.length > 0) {
        throw new BackupError("ACCESS_DENIED", `no credentials for ${describeStore(options)}: set ${missing.join(" and ")} in the environment`, where);
      }
      return { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! };
    }
    case "files": {
      const read = (file: string, what: string): string => {
        let text: string;
        try {
          text = readFileSync(file, "utf8");
        } catch (cause) {
          throw new BackupError("ACCESS_DENIED", `cannot read the ${what} of ${describeStore(options)} from ${file}: ${(cause as NodeJS.ErrnoException).code ?? "error"}`, where);
        }
        const value = text.replace(/[\r\n]+$/, "");
        if (value === "") throw new BackupError("ACCESS_DENIED", `the ${what} file ${file} of ${describeStore(options)} is empty`, where);
        return value;
      };
      return { accessKeyId: read(source.accessKeyIdFile, "access key id"), secretAccessKey: read(source.secretAccessKeyFile, "secret access key") };
    }
    default: {
      const never: never = source;
      throw new Error(`unknown credential source ${JSON.stringify(never)}`);
    }
  }
}

/** `s3://bucket/prefix at endpoint`, for messages: never a credential. */
export function describeStore(options: Pick<ObjectStoreOptions, "endpoint" | "bucket" | "prefix">): string {
  return `s3://${options.bucket}${options.prefix ? `/${options.prefix}` : ""} at ${redactEndpoint(options.endpoint)}`;
}

/** The endpoint URL without any user info it may carry. */
export function redactEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return endpoint.replace(/\/\/[^/@]*@/, "//");
  }
}
