/**
 * Loggers for the controller runtime: a JSON-lines logger (one object per line, fields merged
 * from every `child`) and a silent one.
 */
import type { LogFields, Logger } from "../index";

/** A logger that drops everything. */
export const noopLogger: Logger = {
  debug: () => {},
  info: () => {},
  error: () => {},
  child: () => noopLogger,
};

/** Options of {@link jsonLogger}. */
export interface JsonLoggerOptions {
  /** Receives one serialized line, without a trailing newline. @default write to stderr */
  write?: (line: string) => void;
  /** Drop `debug` lines. @default true */
  quietDebug?: boolean;
  /** Timestamp source, in ms since the epoch. @default Date.now */
  now?: () => number;
}

/**
 * A logger writing `{"time","level","msg",...fields}` per line. A field that cannot be
 * serialized (a cycle, a BigInt) is written as a placeholder rather than throwing.
 */
export function jsonLogger(options: JsonLoggerOptions = {}, base: LogFields = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const quietDebug = options.quietDebug ?? true;
  const emit = (level: string, msg: string, fields?: LogFields): void => {
    const record = { time: new Date(now()).toISOString(), level, msg, ...base, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ time: record.time, level, msg, fields: "[unserializable]" });
    }
    write(line);
  };
  return {
    debug: (msg, fields) => {
      if (!quietDebug) emit("debug", msg, fields);
    },
    info: (msg, fields) => emit("info", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => jsonLogger(options, { ...base, ...fields }),
  };
}
