// Worker thread for the first scan of a large offers directory (offerScanner.ts scanFirst): stats, reads and parses
// the YAML of the files it is given, off the daemon's main thread, which validates the results. Plain JavaScript:
// tsx does not load TypeScript in worker threads on Node 20.
import { readFileSync, statSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { CORE_SCHEMA, load } from 'js-yaml'

const anchorOrAlias = new RegExp(workerData.anchorOrAlias, 'm')
const CHUNK = 250

/** { gone } removed meanwhile; { sig, mtimeMs, value } parsed; { sig, mtimeMs, slow } for the main thread's slow path. */
function parse(abs) {
  let st
  try { st = statSync(abs) } catch { return { gone: true } }
  if (!st.isFile()) return { gone: true }
  const base = { sig: `${st.ino}:${st.size}:${st.mtimeMs}`, mtimeMs: st.mtimeMs }
  try {
    const text = readFileSync(abs, 'utf8')
    if (anchorOrAlias.test(text)) return { ...base, slow: true }
    return { ...base, value: load(text, { schema: CORE_SCHEMA }) }
  } catch {
    return { ...base, slow: true }
  }
}

for (let i = 0; i < workerData.files.length; i += CHUNK) parentPort.postMessage(workerData.files.slice(i, i + CHUNK).map(parse))
