/**
 * `npm run test:full` (before `vitest run`) and `.ci/run`: installs with apt-get every system
 * component of tools/test/components.ts that this machine lacks — as root, or through sudo when
 * it asks no password — so the whole suite runs, nothing skipped. Exits 1, printing the command,
 * when it may not install them.
 */
import { spawnSync } from 'node:child_process';
import { COMPONENTS, detect, installCommand, type ComponentName } from './components.ts';

const missing: ComponentName[] = [];
for (const name of Object.keys(COMPONENTS) as ComponentName[]) {
  const d = await detect(name);
  if (!d.present) {
    missing.push(name);
    console.log(`test:full: ${name} is missing (${d.why})`);
  }
}
if (missing.length === 0) {
  console.log(`test:full: every system component is here (${Object.keys(COMPONENTS).join(', ')})`);
  process.exit(0);
}

const command = installCommand(missing);
const has = (exe: string, ...args: string[]): boolean => spawnSync(exe, args, { stdio: 'ignore' }).status === 0;
const root = process.getuid?.() === 0;
const prefix = root ? [] : has('sudo', '-n', 'true') ? ['sudo', '-n'] : null;
if (!has('apt-get', '--version') || prefix === null) {
  console.error(`test:full: cannot install them here (${!has('apt-get', '--version') ? 'no apt-get' : 'not root, and sudo asks a password'}); run as root:\n  apt-get update && ${command}`);
  process.exit(1);
}
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [['apt-get', 'update'], command.split(' ')]) {
  console.log(`test:full: ${[...prefix, ...args].join(' ')}`);
  const r = spawnSync(prefix[0] ?? args[0], [...prefix.slice(1), ...(prefix.length > 0 ? args : args.slice(1))], { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
