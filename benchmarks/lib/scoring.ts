/**
 * Scoring the same documents in bam and in the PyTorch peer: the harness requests a document set
 * makes (`scoringRequests`), the token sequences bam's LanguageModel scores for them
 * (`requestSequences`, from @bam/plugins' own `rollingWindows` / `encodePair` /
 * `documentStartToken`), and the peer's scores of those sequences summed back per request
 * (`peerScores`). bam's side is the real `loglikelihood` / `loglikelihoodRolling`; the peer gets
 * the sequences those calls hand to `scoreTokens`, batched the same way (longest first, right-padded).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tokenizer } from '@bam/core';
import type { LoglikelihoodRequest, RollingRequest } from '@bam/eval';
import { documentStartToken, encodePair, rollingWindows } from '@bam/plugins';
import { runPeer } from './peer.ts';

/** The two kinds of harness scoring request. */
export type ScoringKind = 'rolling' | 'loglikelihood';

/** Both kinds of request over one document set. */
export interface ScoringRequests {
  rolling: RollingRequest[];
  loglikelihood: LoglikelihoodRequest[];
}

/**
 * The requests a document set makes: each whole text for `loglikelihoodRolling` (perplexity
 * tasks), and `pairsPerDoc` (context, continuation) pairs per text for `loglikelihood` (choice
 * tasks): the text cut at evenly spaced points, the continuation the next `continuationChars`
 * characters.
 */
export function scoringRequests(texts: readonly string[], pairsPerDoc = 4, continuationChars = 48): ScoringRequests {
  const loglikelihood: LoglikelihoodRequest[] = [];
  for (const text of texts) {
    for (let j = 1; j <= pairsPerDoc; j++) {
      const cut = Math.floor((text.length * j) / (pairsPerDoc + 1));
      const continuation = text.slice(cut, cut + continuationChars);
      if (cut > 0 && continuation.length > 0) loglikelihood.push({ context: text.slice(0, cut), continuation });
    }
  }
  return { rolling: texts.map((text) => ({ text })), loglikelihood };
}

/** The sequences bam's LanguageModel scores for some requests, and which request each belongs to. */
export interface RequestSequences {
  /** Token sequences as `scoreTokens` receives them. */
  sequences: number[][];
  /** How many of each sequence's last predictions count. */
  scored: number[];
  /** The request each sequence belongs to. */
  request: number[];
  /** How many requests there are. */
  requests: number;
}

/**
 * The sequences `coreLanguageModel` (@bam/plugins) scores for the requests, with its default
 * prefix token and a window of `maxLength` tokens (rolling windows disjoint, lm-eval's default):
 * rolling requests in `rollingWindows`; a loglikelihood request as [prefix] + context +
 * continuation cut from the left to maxLength + 1 tokens, scoring the continuation.
 */
export function requestSequences(kind: ScoringKind, requests: ScoringRequests, tokenizer: Tokenizer, maxLength: number): RequestSequences {
  const prefix = documentStartToken(tokenizer);
  const out: RequestSequences = { sequences: [], scored: [], request: [], requests: 0 };
  if (kind === 'rolling') {
    requests.rolling.forEach((r, i) => {
      for (const w of rollingWindows(tokenizer.encode(r.text), prefix, maxLength, maxLength)) {
        out.sequences.push(w.tokens);
        out.scored.push(w.scored);
        out.request.push(i);
      }
    });
    out.requests = requests.rolling.length;
  } else {
    requests.loglikelihood.forEach((r, i) => {
      const { context, continuation } = encodePair(tokenizer, r.context, r.continuation);
      const whole = [prefix, ...context, ...continuation];
      out.sequences.push(whole.slice(Math.max(0, whole.length - (maxLength + 1))));
      out.scored.push(continuation.length);
      out.request.push(i);
    });
    out.requests = requests.loglikelihood.length;
  }
  return out;
}

/**
 * Several sequence sets as one (requests numbered on from one set to the next), so one peer
 * process scores them all; split the per-request results back by each set's `requests`.
 */
export function joinSequences(...parts: RequestSequences[]): RequestSequences {
  const out: RequestSequences = { sequences: [], scored: [], request: [], requests: 0 };
  for (const p of parts) {
    out.sequences.push(...p.sequences);
    out.scored.push(...p.scored);
    out.request.push(...p.request.map((r) => r + out.requests));
    out.requests += p.requests;
  }
  return out;
}

/** What `peerScores` returns: per-request log-probs and the peer's timed runs. */
export interface PeerScores {
  /** Summed log-prob of each request, in request order. */
  logprobs: number[];
  /** Scored tokens of one pass over all sequences. */
  tokens: number;
  /** Scored tokens/s of each timed pass (after one warm-up pass). */
  tokensPerSecond: number[];
  /** Scored tokens per CPU-second (all threads) of each timed pass. */
  tokensPerCpuSecond: number[];
}

/**
 * Scores `seqs` with the peer on the checkpoint in `checkpointDir`, `batchSize` sequences per
 * forward, `runs` timed passes after a warm-up pass (start-up and loading are not timed), and sums
 * the sequences' scores per request.
 */
export function peerScores(
  checkpointDir: string,
  seqs: RequestSequences,
  opts: { batchSize: number; runs?: number; threads?: number; blasThreads?: number },
): PeerScores {
  const dir = mkdtempSync(join(tmpdir(), 'bam-peer-score-'));
  try {
    const file = join(dir, 'sequences.json');
    writeFileSync(file, JSON.stringify({ sequences: seqs.sequences, scored: seqs.scored }));
    const a = runPeer(
      ['score', '--checkpoint', checkpointDir, '--sequences', file, '--batch', String(opts.batchSize), '--runs', String(opts.runs ?? 1), '--threads', String(opts.threads ?? 1)],
      { env: { OPENBLAS_NUM_THREADS: String(opts.blasThreads ?? 1) } },
    );
    const perSequence = a.logprobs as number[];
    const logprobs = new Array<number>(seqs.requests).fill(0);
    perSequence.forEach((lp, i) => {
      logprobs[seqs.request[i]] += lp;
    });
    return { logprobs, tokens: Number(a.tokens), tokensPerSecond: a.tokensPerSecond as number[], tokensPerCpuSecond: a.tokensPerCpuSecond as number[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
