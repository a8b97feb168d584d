import { describe, expect, it } from 'vitest';
import { parseQueueUrl, QueueError } from '../src/queue/connection.ts';
import { decodeReply, encodeReply, queueJobId } from '../src/queue/jobs.ts';
import { formatCounts } from '../src/queue/status.ts';
import type { WorkerReply } from '../src/worker.ts';

describe('queue URLs, job ids and replies', () => {
  it('parses a redis URL into host, port, database and credentials, and hides the password in messages', () => {
    const t = parseQueueUrl('redis://bam:s%40cret@10.0.0.5:6380/3');
    expect(t.options).toMatchObject({ host: '10.0.0.5', port: 6380, db: 3, username: 'bam', password: 's@cret' });
    expect(t.display).toBe('redis://bam:***@10.0.0.5:6380/3');
    expect(parseQueueUrl('redis://localhost').options).toMatchObject({ host: 'localhost', port: 6379, db: 0 });
    expect(parseQueueUrl('rediss://h:1/0').options.tls).toEqual({});
  });

  it('refuses a URL that is not redis:// with an E_QUEUE error naming what to fix', () => {
    for (const [url, says] of [
      ['localhost:6379', 'the scheme must be redis:// or rediss://'],
      ['http://h:6379', 'not http://'],
      ['redis://h:6379/x', "the database 'x' is not a number"],
      ['not a url', 'is not a URL'],
    ]) {
      const err = (() => {
        try {
          parseQueueUrl(url);
        } catch (e) {
          return e as QueueError;
        }
      })();
      expect(err, url).toBeInstanceOf(QueueError);
      expect(err?.code).toBe('E_QUEUE');
      expect(err?.message).toContain(says);
      expect(err?.hint).toContain('redis://HOST:PORT[/DB]');
    }
  });

  it('round-trips a reply through JSON keeping NaN and ±Infinity scores exactly', () => {
    const reply: WorkerReply = { ok: true, threadId: 3, docs: [{ ll: -Infinity, acc: NaN, ppl: Infinity, x: 0.1 + 0.2 }], ids: ['a'] };
    const back = decodeReply(encodeReply(reply));
    expect(back).toEqual(reply);
    expect(Object.is((back as { docs: Array<Record<string, number>> }).docs[0].acc, NaN)).toBe(true);
    expect((back as { docs: Array<Record<string, number>> }).docs[0].x).toBe(0.30000000000000004);
  });

  it('keys queue jobs by kind and config hash, without the colon BullMQ reserves', () => {
    expect(queueJobId('evaluate', '378afebda4ed4000')).toBe('evaluate-378afebda4ed4000');
    expect(queueJobId('prepare', 'ab')).not.toContain(':');
  });

  it('summarises the queue in one line: queued, running with its worker, done, failed, ETA', () => {
    expect(formatCounts({ queued: 3, running: [{ label: 'btx × arc · seed 0', worker: 'node1:42', seconds: 5 }], done: 7, failed: 1, etaS: 75 })).toBe(
      'queued 3 · running 1 (btx × arc · seed 0 on node1:42) · done 7 · failed 1 · ETA 1:15',
    );
    expect(formatCounts({ queued: 0, running: [], done: 0, failed: 0 })).toBe('queued 0 · running 0 · done 0 · failed 0 · ETA ?');
  });
});
