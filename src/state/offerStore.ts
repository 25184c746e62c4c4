/**
 * Offer files: VEND_HOME/offers/<namespace>/<name>.yaml, one offer per file. The files are the desired
 * state; the CLI writes them atomically, the daemon reads and watches them.
 */
import { hash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync, rmdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { stringify } from 'yaml'
import { parseOfferDocuments, type OfferProblem } from '../offer/parseOffers.ts'
import type { ServiceOffer } from '../offer/schema.ts'
import { writeFileAtomic } from './atomicWrite.ts'
import { offerFile, type HomePaths } from './home.ts'
import { NAME_PATTERN } from '../offer/schema.ts'

export type OfferFileRecord = {
  key: string
  namespace: string
  name: string
  /** Absolute path. */
  path: string
  /** Path relative to VEND_HOME, for messages. */
  file: string
  mtimeMs: number
  generation: string
} & ({ offer: ServiceOffer; problem?: undefined } | { offer?: undefined; problem: OfferProblem })

const nameRe = new RegExp(NAME_PATTERN)

export function specGeneration(value: unknown): string {
  return hash('sha256', JSON.stringify(value ?? null), 'hex').slice(0, 12)
}

/** Read one offer file. A file that fails to parse or validate becomes a record with a problem. */
export function readOfferFile(paths: HomePaths, namespace: string, name: string, absPath = offerFile(paths, namespace, name)): OfferFileRecord {
  const file = relative(paths.root, absPath)
  const key = `${namespace}/${name}`
  let text: string
  let mtimeMs = 0
  try {
    text = readFileSync(absPath, 'utf8')
    mtimeMs = statSync(absPath).mtimeMs
  } catch (err) {
    return { key, namespace, name, path: absPath, file, mtimeMs, generation: 'unreadable', problem: { file, line: undefined, message: `cannot read: ${(err as Error).message}` } }
  }
  const docs = parseOfferDocuments(text, file)
  const generation = specGeneration(text)
  if (docs.length !== 1) return { key, namespace, name, path: absPath, file, mtimeMs, generation, problem: { file, line: 1, message: 'an offer file holds exactly one ServiceOffer document' } }
  const d = docs[0]!
  if (!d.ok) return { key, namespace, name, path: absPath, file, mtimeMs, generation, problem: d.problem }
  if (d.offer.metadata.name !== name || d.offer.metadata.namespace !== namespace) {
    return {
      key, namespace, name, path: absPath, file, mtimeMs, generation,
      problem: { file, line: d.line, message: `metadata says ${d.offer.metadata.namespace}/${d.offer.metadata.name} but the file is ${key}; the file location decides, so rename the file or fix metadata` },
    }
  }
  return { key, namespace, name, path: absPath, file, mtimeMs, generation: specGeneration(d.offer.spec), offer: d.offer }
}

/** Every offer file under VEND_HOME/offers, sorted by key. Stray files (wrong names, temp files) are skipped. */
export function listOfferFiles(paths: HomePaths): OfferFileRecord[] {
  if (!existsSync(paths.offersDir)) return []
  const out: OfferFileRecord[] = []
  for (const ns of readdirSync(paths.offersDir).sort()) {
    if (!nameRe.test(ns)) continue
    const dir = join(paths.offersDir, ns)
    let entries: string[]
    try { entries = readdirSync(dir) } catch { continue }
    for (const f of entries.sort()) {
      if (!f.endsWith('.yaml')) continue
      const name = f.slice(0, -5)
      if (!nameRe.test(name)) continue
      out.push(readOfferFile(paths, ns, name, join(dir, f)))
    }
  }
  return out
}

/** Serialise an offer the way `vend sell` writes it: no status, no defaults that were not given. */
export function offerToYaml(offer: unknown): string {
  return stringify(offer, { lineWidth: 0 })
}

export function writeOffer(paths: HomePaths, offer: { metadata: { name: string; namespace?: string } } & Record<string, unknown>): string {
  const ns = offer.metadata.namespace ?? 'default'
  const p = offerFile(paths, ns, offer.metadata.name)
  writeFileAtomic(p, offerToYaml(offer), 0o600)
  return p
}

export function deleteOffer(paths: HomePaths, namespace: string, name: string): boolean {
  const p = offerFile(paths, namespace, name)
  try {
    unlinkSync(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
  try { rmdirSync(join(paths.offersDir, namespace)) } catch { /* not empty */ }
  return true
}
