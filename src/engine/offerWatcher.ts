/**
 * Watches VEND_HOME/offers and each namespace directory (fs.watch: inotify on Linux) and calls onChange,
 * debounced, after any change. Namespace directories are re-armed as they appear and disappear. Watch events
 * only trigger a rescan: the daemon's periodic full resync covers anything a watcher misses.
 */
import { readdirSync, watch, type FSWatcher } from 'node:fs'
import { join } from 'node:path'

export type OfferWatcher = { close(): void }

export function watchOffers(offersDir: string, onChange: () => void, debounceMs = 50): OfferWatcher {
  const watchers = new Map<string, FSWatcher>()
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const fire = (): void => {
    if (closed || timer) return
    timer = setTimeout(() => {
      timer = undefined
      if (closed) return
      arm()
      onChange()
    }, debounceMs)
  }

  const add = (dir: string): void => {
    if (watchers.has(dir)) return
    try {
      const w = watch(dir, { persistent: false }, fire)
      w.on('error', () => { w.close(); watchers.delete(dir); fire() })
      watchers.set(dir, w)
    } catch { /* not there (yet): the parent's watcher or the resync sees it */ }
  }

  function arm(): void {
    add(offersDir)
    let dirs: string[] = []
    try {
      dirs = readdirSync(offersDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(offersDir, e.name))
    } catch { /* no offers dir yet */ }
    const wanted = new Set(dirs)
    for (const dir of wanted) add(dir)
    for (const [dir, w] of watchers) {
      if (dir !== offersDir && !wanted.has(dir)) { w.close(); watchers.delete(dir) }
    }
  }

  arm()
  return {
    close() {
      closed = true
      if (timer) clearTimeout(timer)
      for (const w of watchers.values()) w.close()
      watchers.clear()
    },
  }
}
