// The secrets-hygiene sweep: given the actual secret values a test generated (passwords, the
// secret parts of SCRAM verifiers, private keys, tokens) and the texts a user or an operator can
// see (logs, statuses, Events, `pulumi stack export`, CLI output), list every place a secret
// appears. Matching the real values, not patterns, finds leaks in any encoding a grep would
// miss only if the value itself is transformed; the base64 forms are checked too.

/** A PEM private key header, whatever the key type. */
export const PRIVATE_KEY_PATTERN = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** One secret found where it must not be. */
export interface Leak {
  /** Which text (e.g. `operator log`). */
  readonly where: string;
  /** Which secret (its label, never its value). */
  readonly what: string;
  /** Characters around it, with the secret itself masked. */
  readonly context: string;
}

/**
 * The secret parts of a SCRAM-SHA-256 verifier (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`):
 * whoever has both keys can impersonate the server or, with the StoredKey, log in against it.
 */
export function verifierKeys(verifier: string): string[] {
  const m = /^SCRAM-SHA-256\$\d+:[^$]+\$([^:]+):(.+)$/.exec(verifier);
  if (!m) throw new Error("not a SCRAM-SHA-256 verifier");
  return [m[1]!, m[2]!];
}

/**
 * Every place one of `secrets` (by label) appears in `texts` (by where), as itself or base64-encoded,
 * plus any PEM private key. Secrets shorter than 8 characters are refused (they would match by chance).
 */
export function sweepSecrets(texts: Readonly<Record<string, string>>, secrets: Readonly<Record<string, string>>): Leak[] {
  const leaks: Leak[] = [];
  const needles: [string, string][] = [];
  for (const [what, value] of Object.entries(secrets)) {
    if (value.length < 8) throw new Error(`secret "${what}" is too short to sweep for (${value.length} characters)`);
    needles.push([what, value], [`${what} (base64)`, Buffer.from(value, "utf8").toString("base64")]);
  }
  for (const [where, text] of Object.entries(texts)) {
    for (const [what, value] of needles) {
      const at = text.indexOf(value);
      if (at >= 0) leaks.push({ where, what, context: `${text.slice(Math.max(0, at - 80), at)}<${what}>${text.slice(at + value.length, at + value.length + 80)}` });
    }
    const pem = PRIVATE_KEY_PATTERN.exec(text);
    if (pem) leaks.push({ where, what: "a PEM private key", context: text.slice(Math.max(0, pem.index - 80), pem.index + 40) });
  }
  return leaks;
}
