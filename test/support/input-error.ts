import { expect } from "vitest";
import { InputError } from "../../sdk/errors";

/**
 * The InputError `fn` throws.
 * @throws {Error} when `fn` returns, or (an assertion) when it throws anything else
 */
export function inputErrorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error("expected an InputError, but nothing was thrown");
}
