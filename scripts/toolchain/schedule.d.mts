/** One unit of work: runs after every task named in `after` has succeeded. */
export interface Task<T> {
  name: string;
  after?: string[];
  run: () => Promise<T>;
}

/** What {@link runScheduled} reports: results of tasks that succeeded, errors of those that failed, names of those never started. */
export interface ScheduleOutcome<T> {
  results: Record<string, T>;
  failures: Record<string, Error>;
  skipped: string[];
}

/** Runs tasks at most `jobs` at a time in dependency order; never rejects. */
export function runScheduled<T>(tasks: Task<T>[], jobs: number): Promise<ScheduleOutcome<T>>;
