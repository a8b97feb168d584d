/**
 * A private Redis for the queue-mode tests and benchmark: `redis-server` (tools/test/components.ts'
 * `redis`) on a free loopback port, its files in a folder of the caller's, with append-only
 * persistence fsynced on every write so a restart loses nothing. `stop()` shuts it down (SIGTERM:
 * Redis flushes and exits); `restart()` starts it again on the same port and files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

/** A running private Redis. */
export interface PrivateRedis {
  port: number;
  /** `redis://127.0.0.1:PORT/DB`: one database per test keeps their jobs apart. */
  url(db?: number): string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

function accepting(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

/** Starts redis-server in `dir` on a free port; resolves once it accepts connections. */
export async function startRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--databases', '64'];
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    for (let i = 0; i < 200; i++) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode} (port ${port}, dir ${dir})`);
      if (await accepting(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not accept connections on port ${port} within 10 s`);
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((res) => {
      proc.once('exit', () => res());
      proc.kill('SIGTERM');
    });
  };
  await start();
  return {
    port,
    url: (db = 0) => `redis://127.0.0.1:${port}/${db}`,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
