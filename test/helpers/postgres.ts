/**
 * A private, throwaway Postgres for tests: Debian's postgresql package (installed with apt when missing and we are
 * root), initdb in a temp dir (as the `postgres` user when we are root: initdb refuses root), started on a free
 * loopback port with fsync off, stopped and removed by stop().
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './vend.ts'

export type TestPostgres = { url: string; stop(): Promise<void> }

function binDir(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const v = readdirSync(base).filter((d) => existsSync(join(base, d, 'bin/initdb'))).sort((a, b) => Number(b) - Number(a))[0]
  return v && join(base, v, 'bin')
}

function ensureInstalled(): string {
  let bin = binDir()
  if (bin) return bin
  const root = process.getuid?.() === 0
  if (root && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    spawnSync('apt-get', ['install', '-y', '-qq', 'postgresql'], { stdio: 'inherit', env })
    bin = binDir()
  }
  if (!bin) throw new Error('Postgres is not installed: apt-get install -y postgresql (Debian) to run the Postgres tests.')
  return bin
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = ensureInstalled()
  const dir = mkdtempSync(join(tmpdir(), 'vend-pg-'))
  const asRoot = process.getuid?.() === 0
  const run = (cmd: string, args: string[]) => {
    const r = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8' })
      : spawnSync(join(bin, cmd), args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`)
  }
  if (asRoot) spawnSync('chown', ['-R', 'postgres:postgres', dir])
  chmodSync(dir, 0o700)
  const data = join(dir, 'data')
  const port = await freePort()
  run('initdb', ['-D', data, '-U', 'vend', '-A', 'trust', '--no-sync', '-E', 'UTF8'])
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50`, 'start'])
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    process.off('exit', stop)
    try { run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']) } finally { rmSync(dir, { recursive: true, force: true }) }
  }
  // a test process that ends without its after() hook (timeout, uncaught error) still leaves no server behind
  process.on('exit', stop)
  return { url: `postgres://vend@127.0.0.1:${port}/postgres`, stop: async () => stop() }
}
