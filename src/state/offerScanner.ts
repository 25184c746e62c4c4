/**
 * Incremental reader of VEND_HOME/offers for the daemon. Every scan lists the directories and stats the files,
 * but a file is read and parsed again only when its inode, size or mtime changed, so a periodic full resync
 * of 10,000 offers costs a few stat calls per offer.
 *
 * Parsing takes a fast path (js-yaml with the YAML 1.2 core schema, then the zod schema): the `yaml` parser
 * that gives line numbers is ~8x slower. Anything the fast path does not accept as a valid offer goes through
 * readOfferFile, so a problem is reported with the same file, line and message as everywhere else.
 */
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { CORE_SCHEMA, load } from 'js-yaml'
import { NAME_PATTERN, ServiceOffer } from '../offer/schema.ts'
import type { HomePaths } from './home.ts'
import { readOfferFile, specGeneration, type OfferFileRecord } from './offerStore.ts'

export type OfferScan = {
  /** Every offer file, sorted by namespace then name (as listOfferFiles). */
  records: OfferFileRecord[]
  /** Keys of files that are new or changed since the previous scan. */
  changed: Set<string>
  /** Keys of files that disappeared since the previous scan. */
  removed: string[]
}

export type OfferScanner = { scan(): OfferScan }

const nameRe = new RegExp(NAME_PATTERN)
/** Anchors and aliases: left to the `yaml` parser, which caps alias expansion. */
const anchorOrAlias = /(^|[\s,[{])[&*]\S/m

export function createOfferScanner(paths: HomePaths): OfferScanner {
  const cache = new Map<string, { sig: string; record: OfferFileRecord }>()
  return {
    scan() {
      const records: OfferFileRecord[] = []
      const changed = new Set<string>()
      const present = new Set<string>()
      // Per scan, so strings of deleted offers are not kept: a first scan of 10,000 offers shares all it can.
      const strings = new Map<string, string>()
      for (const ns of listDir(paths.offersDir)) {
        if (!nameRe.test(ns)) continue
        const dir = join(paths.offersDir, ns)
        for (const f of listDir(dir)) {
          if (!f.endsWith('.yaml')) continue
          const name = f.slice(0, -5)
          if (!nameRe.test(name)) continue
          const abs = join(dir, f)
          let st: Stats
          try { st = statSync(abs) } catch { continue } // removed between readdir and stat
          if (!st.isFile()) continue
          const sig = `${st.ino}:${st.size}:${st.mtimeMs}`
          let entry = cache.get(abs)
          if (!entry || entry.sig !== sig) {
            entry = { sig, record: readOfferFileFast(paths, ns, name, abs, st.mtimeMs, strings) }
            cache.set(abs, entry)
            changed.add(entry.record.key)
          }
          present.add(abs)
          records.push(entry.record)
        }
      }
      const removed: string[] = []
      for (const [abs, entry] of cache) {
        if (present.has(abs)) continue
        cache.delete(abs)
        removed.push(entry.record.key)
      }
      return { records, changed, removed }
    },
  }
}

function listDir(dir: string): string[] {
  try { return readdirSync(dir).sort() } catch { return [] }
}

/**
 * Same record as readOfferFile(paths, ns, name, abs), faster for valid files. The offer's long strings are
 * replaced by copies from `strings` (shared by the files of one scan): the parser's substrings would keep each
 * file's whole text alive, and most values (upstream, payTo, apiVersion) repeat across offers.
 */
export function readOfferFileFast(paths: HomePaths, namespace: string, name: string, abs: string, mtimeMs: number, strings = new Map<string, string>()): OfferFileRecord {
  let text: string
  try { text = readFileSync(abs, 'utf8') } catch { return readOfferFile(paths, namespace, name, abs) }
  if (anchorOrAlias.test(text)) return readOfferFile(paths, namespace, name, abs)
  let value: unknown
  try { value = load(text, { schema: CORE_SCHEMA }) } catch { return readOfferFile(paths, namespace, name, abs) }
  const res = ServiceOffer.safeParse(value)
  if (!res.success || res.data.metadata.name !== name || res.data.metadata.namespace !== namespace) return readOfferFile(paths, namespace, name, abs)
  shareStrings(res.data, strings)
  return {
    key: `${namespace}/${name}`, namespace, name, path: abs, file: `${offersRelative(paths)}${sep}${namespace}${sep}${name}.yaml`, mtimeMs,
    generation: specGeneration(res.data.spec), offer: res.data,
  }
}

/** VEND_HOME/offers relative to VEND_HOME ("offers"), computed once per home: path.relative costs per file. */
const offersRelatives = new WeakMap<HomePaths, string>()
function offersRelative(paths: HomePaths): string {
  let r = offersRelatives.get(paths)
  if (r === undefined) offersRelatives.set(paths, r = relative(paths.root, paths.offersDir))
  return r
}

/** V8 makes substrings of at least 13 characters views into their parent string; shorter ones are copies. */
const MIN_VIEW_LENGTH = 13

/** Replace, in place, the long strings of a parsed document by shared standalone copies. */
function shareStrings(value: Record<string, unknown> | unknown[], strings: Map<string, string>): void {
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value)
  for (const [k, v] of entries) {
    if (typeof v === 'string') {
      if (v.length < MIN_VIEW_LENGTH) continue
      let copy = strings.get(v)
      if (copy === undefined) strings.set(copy = standalone(v), copy)
      ;(value as Record<string | number, unknown>)[k] = copy
    } else if (typeof v === 'object' && v !== null) {
      shareStrings(v as Record<string, unknown>, strings)
    }
  }
}

/** A copy of `s` that references no parent string (JSON.parse builds a new string). */
const standalone = (s: string): string => JSON.parse(JSON.stringify(s)) as string
