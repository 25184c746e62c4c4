#!/usr/bin/env node
// Browser tests drive Debian's Chromium through playwright-core (no browser download). On a fresh machine
// where we are root with apt, install it; otherwise say exactly what is missing.
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

export function ensureChromium() {
  if (existsSync(CHROMIUM)) return true
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0
  if (!root || !apt) {
    console.error(`Chromium not found at ${CHROMIUM}. Install Debian's chromium package (apt-get install -y chromium) or set CHROMIUM_PATH.`)
    return false
  }
  console.error('Installing Debian chromium for the browser tests (once per machine)...')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  const r = spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env })
  return r.status === 0 && existsSync(CHROMIUM)
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(ensureChromium() ? 0 : 1)
