/** Progress lines on stderr: jobs done / total, failures, elapsed time and ETA. */
import { formatDuration } from './util/text.ts';

/** Writes one line per event to a stream (stderr in the CLI); silent when the stream is false. */
export class Progress {
  private start = performance.now();
  private ranNow = 0;
  private failed = 0;

  constructor(
    private readonly out: { write(s: string): unknown } | false,
    private readonly name: string,
    readonly total: number,
    private done: number,
  ) {}

  /** Restarts the clock the ETA is measured from (call when the job phase begins, after prepares). */
  startJobs(): void {
    this.start = performance.now();
  }

  /** A free-form line (phase changes, notes). */
  note(message: string): void {
    if (this.out) this.out.write(`[sweep ${this.name}] ${message}\n`);
  }

  /** A job finished (ok or failed) in this run. */
  job(label: string, ok: boolean, seconds: number, remainingThisRun: number): void {
    this.done++;
    this.ranNow++;
    if (!ok) this.failed++;
    const elapsed = (performance.now() - this.start) / 1000;
    const eta = (elapsed / this.ranNow) * remainingThisRun;
    this.note(
      `${this.done}/${this.total} jobs${this.failed ? ` · ${this.failed} failed` : ''} · elapsed ${formatDuration(elapsed)} · ETA ${formatDuration(eta)} · ${label} ${ok ? 'ok' : 'FAILED'} (${seconds.toFixed(1)}s)`,
    );
  }
}
