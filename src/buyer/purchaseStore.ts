/**
 * Purchase files: VEND_HOME/purchases/<name>.yaml, one Purchase per file, written atomically. The daemon reads
 * them through `createPurchaseCache`, which re-parses a file only when its mtime or size changed.
 */
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs'
import { join, sep } from 'node:path'
import { parseDocument, stringify } from 'yaml'
import { BaseError, InvalidInputError } from '../errors/base.ts'
import { writeFileAtomic } from '../state/atomicWrite.ts'
import { assertName, type HomePaths } from '../state/home.ts'
import { Purchase } from './purchaseSchema.ts'

export class PurchaseNotFoundError extends BaseError {
  override name = 'PurchaseNotFoundError'
}

export type PurchaseRecord = { name: string; file: string } & ({ purchase: Purchase; problem?: undefined } | { purchase?: undefined; problem: string })

export function purchaseFile(paths: HomePaths, name: string): string {
  const p = join(paths.purchasesDir, `${assertName(name, 'purchase name')}.yaml`)
  if (!p.startsWith(paths.purchasesDir + sep)) throw new InvalidInputError(`Purchase path escapes ${paths.purchasesDir}.`)
  return p
}

export function writePurchase(paths: HomePaths, purchase: Purchase): string {
  const file = purchaseFile(paths, purchase.metadata.name)
  writeFileAtomic(file, stringify(Purchase.parse(purchase)), 0o600)
  return file
}

/** Parse one purchase file's text; a problem is one line naming the field. */
function parsePurchase(text: string, name: string): { purchase: Purchase } | { problem: string } {
  const doc = parseDocument(text, { uniqueKeys: true })
  if (doc.errors.length) return { problem: `invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}` }
  const res = Purchase.safeParse(doc.toJS())
  if (!res.success) {
    const i = res.error.issues[0]!
    return { problem: `${i.path.join('.') || '(document)'}: ${i.message}` }
  }
  if (res.data.metadata.name !== name) return { problem: `metadata.name "${res.data.metadata.name}" does not match the file name ${name}.yaml` }
  return { purchase: res.data }
}

export function readPurchaseRecord(paths: HomePaths, name: string): PurchaseRecord {
  const file = purchaseFile(paths, name)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PurchaseNotFoundError(`There is no purchase named "${name}".`, { hint: 'See `vend buy list`, or add one with `vend buy add <seller>`.' })
    }
    throw err
  }
  const r = parsePurchase(text, name)
  return 'purchase' in r ? { name, file, purchase: r.purchase } : { name, file, problem: r.problem }
}

/** The purchase, or a one-line error saying what is wrong with its file. */
export function readPurchase(paths: HomePaths, name: string): Purchase {
  const r = readPurchaseRecord(paths, name)
  if (r.problem !== undefined) throw new InvalidInputError(`${r.file}: ${r.problem}.`, { hint: 'Fix the file, or remove it with `vend buy remove`.' })
  return r.purchase
}

function purchaseNames(paths: HomePaths): string[] {
  if (!existsSync(paths.purchasesDir)) return []
  return readdirSync(paths.purchasesDir)
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .filter((n) => { try { assertName(n, 'purchase name'); return true } catch { return false } })
    .sort()
}

export function listPurchases(paths: HomePaths): PurchaseRecord[] {
  return purchaseNames(paths).map((n) => readPurchaseRecord(paths, n))
}

export function removePurchase(paths: HomePaths, name: string): boolean {
  try {
    unlinkSync(purchaseFile(paths, name))
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

export type PurchaseCache = { all(): PurchaseRecord[]; get(name: string): PurchaseRecord | undefined }

/** The purchases as the files are now: a directory listing and a stat per call; changed files are re-parsed. */
export function createPurchaseCache(paths: HomePaths): PurchaseCache {
  const cache = new Map<string, { stamp: string; record: PurchaseRecord }>()
  const load = (name: string): PurchaseRecord | undefined => {
    const file = purchaseFile(paths, name)
    let stamp: string
    try {
      const st = statSync(file)
      stamp = `${st.mtimeMs}:${st.size}`
    } catch {
      cache.delete(name)
      return undefined
    }
    const hit = cache.get(name)
    if (hit?.stamp === stamp) return hit.record
    let record: PurchaseRecord
    try { record = readPurchaseRecord(paths, name) } catch { cache.delete(name); return undefined }
    cache.set(name, { stamp, record })
    return record
  }
  return {
    all() {
      const names = purchaseNames(paths)
      for (const n of cache.keys()) if (!names.includes(n)) cache.delete(n)
      return names.flatMap((n) => load(n) ?? [])
    },
    get(name) {
      try { assertName(name, 'purchase name') } catch { return undefined }
      return load(name)
    },
  }
}
