// `setpoint pr-comment` on a real `pulumi preview --json`, for the end-to-end tests.
import { expect } from "vitest";
import { main } from "../../sdk/cli/main";

/** The JSON document of `pulumi preview --json`, also when the preview failed (it is printed either way). */
export function previewDocument(text: string): string {
  const start = text.indexOf("{\n");
  const end = text.lastIndexOf("\n}");
  if (start < 0 || end < 0) throw new Error(`no JSON document in:\n${text}`);
  return text.slice(start, end + 2);
}

/** The Markdown `setpoint pr-comment` writes for a preview's JSON (asserting it exits 0). */
export async function prComment(json: string): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["pr-comment"], { stdout: (t) => out.push(t), stderr: (t) => err.push(t), readStdin: async () => json });
  expect(code, err.join("")).toBe(0);
  return out.join("");
}
