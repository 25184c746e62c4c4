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
import { Worker } from 'node:worker_threads'
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

export type OfferScanner = {
  scan(): OfferScan
  /**
   * The first scan of a large directory (nothing cached yet): the same result as scan(), with half the files
   * stat'ed, read and parsed in a worker thread while this thread does the other half; then it validates them.
   */
  scanFirst(): Promise<OfferScan>
}

/** Below this many files a worker thread costs more than it saves. */
const PARALLEL_MIN_FILES = 2000

type Listed = { ns: string; name: string; abs: string }
type Parsed = { gone: true } | { sig: string; mtimeMs: number; value?: unknown; slow?: true }

const nameRe = new RegExp(NAME_PATTERN)
/** Anchors and aliases: left to the `yaml` parser, which caps alias expansion. */
const anchorOrAlias = /(^|[\s,[{])[&*]\S/m

export function createOfferScanner(paths: HomePaths): OfferScanner {
  const cache = new Map<string, { sig: string; record: OfferFileRecord }>()

  function list(): Listed[] {
    const out: Listed[] = []
    for (const ns of listDir(paths.offersDir)) {
      if (!nameRe.test(ns)) continue
      const dir = join(paths.offersDir, ns)
      for (const f of listDir(dir)) {
        if (!f.endsWith('.yaml')) continue
        const name = f.slice(0, -5)
        if (nameRe.test(name)) out.push({ ns, name, abs: join(dir, f) })
      }
    }
    return out
  }

  /** One file of a scan: from the cache when unchanged, else read (or taken from `parsed`, the worker's result). */
  function visit(l: Listed, into: OfferScan, present: Set<string>, strings: Map<string, string>, parsed?: Parsed): void {
    let sig: string
    let mtimeMs: number
    if (parsed) {
      if ('gone' in parsed) return
      ;({ sig, mtimeMs } = parsed)
    } else {
      let st: Stats
      try { st = statSync(l.abs) } catch { return } // removed between readdir and stat
      if (!st.isFile()) return
      sig = `${st.ino}:${st.size}:${st.mtimeMs}`
      mtimeMs = st.mtimeMs
    }
    let entry = cache.get(l.abs)
    if (!entry || entry.sig !== sig) {
      const record = !parsed ? readOfferFileFast(paths, l.ns, l.name, l.abs, mtimeMs, strings)
        : parsed.slow ? readOfferFile(paths, l.ns, l.name, l.abs)
          : offerRecord(paths, l.ns, l.name, l.abs, mtimeMs, parsed.value, strings)
      entry = { sig, record }
      cache.set(l.abs, entry)
      into.changed.add(record.key)
    }
    present.add(l.abs)
    into.records.push(entry.record)
  }

  function finish(into: OfferScan, present: Set<string>): OfferScan {
    for (const [abs, entry] of cache) {
      if (present.has(abs)) continue
      cache.delete(abs)
      into.removed.push(entry.record.key)
    }
    return into
  }

  const emptyScan = (): OfferScan => ({ records: [], changed: new Set(), removed: [] })

  return {
    scan() {
      const into = emptyScan()
      const present = new Set<string>()
      // Per scan, so strings of deleted offers are not kept: a first scan of 10,000 offers shares all it can.
      const strings = new Map<string, string>()
      for (const l of list()) visit(l, into, present, strings)
      return finish(into, present)
    },
    async scanFirst() {
      const files = list()
      if (cache.size || files.length < PARALLEL_MIN_FILES) return this.scan()
      const half = Math.ceil(files.length / 2)
      const parsed: Parsed[] = []
      const worker = new Worker(new URL('./offerParseWorker.mjs', import.meta.url), {
        execArgv: [], workerData: { files: files.slice(half).map((l) => l.abs), anchorOrAlias: anchorOrAlias.source },
      })
      const done = new Promise<void>((resolve, reject) => {
        worker.on('message', (chunk: Parsed[]) => { parsed.push(...chunk) })
        worker.once('error', reject)
        worker.once('exit', () => resolve())
      })
      const into = emptyScan()
      const present = new Set<string>()
      const strings = new Map<string, string>()
      for (const l of files.slice(0, half)) visit(l, into, present, strings)
      try {
        await done
      } catch {
        // the worker failed: this thread reads the rest itself
        for (const l of files.slice(half)) visit(l, into, present, strings)
        return finish(into, present)
      }
      // a result the worker did not deliver is read here
      files.slice(half).forEach((l, i) => visit(l, into, present, strings, parsed[i]))
      return finish(into, present)
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
  return offerRecord(paths, namespace, name, abs, mtimeMs, value, strings)
}

/** The record of a parsed offer file: validated, or through readOfferFile for the exact problem. */
function offerRecord(paths: HomePaths, namespace: string, name: string, abs: string, mtimeMs: number, value: unknown, strings: Map<string, string>): OfferFileRecord {
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
