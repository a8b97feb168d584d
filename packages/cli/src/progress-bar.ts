/** The terminal progress bar the CLI passes to core's trainer (core itself draws nothing). */
import cliProgress from 'cli-progress';
import type { TrainReporter } from '@bam/core';

/** A `TrainReporter` drawing one progress bar on stderr: steps, loss, throughput and ETA. */
export function trainProgressBar(): TrainReporter {
  const bar = new cliProgress.SingleBar(
    { format: 'train |{bar}| {value}/{total} steps | loss {loss} | {tps} tok/s | ETA {left}', stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    start(startStep, steps) {
      bar.start(steps, startStep, { loss: '-', tps: '-', left: '-' });
      started = true;
    },
    update(p) {
      bar.update(p.step, { loss: p.loss.toFixed(4), tps: Math.round(p.tokensPerSecond), left: Number.isFinite(p.etaSeconds) ? `${Math.round(p.etaSeconds)}s` : '-' });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
