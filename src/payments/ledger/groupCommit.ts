/**
 * Group commit for the SQLite ledger: writes issued in the same turn of the event loop (concurrent paid requests)
 * commit together in one transaction, so a burst pays for one WAL commit instead of one per write. Each write's
 * promise resolves only after its transaction committed. Should any write of a group throw, the group is rolled
 * back and every write is retried on its own, so one bad write never takes the others with it.
 */
import type { Db } from '../../state/db.ts'

type Op = { run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }

export type GroupCommit = <T>(run: () => T) => Promise<T>

export function createGroupCommit(db: Db): GroupCommit {
  let queue: Op[] = []

  const alone = (op: Op) => { try { op.resolve(op.run()) } catch (err) { op.reject(err) } }

  function flush(): void {
    const ops = queue
    queue = []
    if (ops.length === 1) { alone(ops[0]!); return }
    let results: unknown[]
    try {
      results = db.transaction(() => ops.map((op) => op.run()))()
    } catch {
      ops.forEach(alone)
      return
    }
    ops.forEach((op, i) => op.resolve(results[i]))
  }

  return <T>(run: () => T) => new Promise<T>((resolve, reject) => {
    if (!queue.length) setImmediate(flush)
    queue.push({ run, resolve: resolve as (v: unknown) => void, reject })
  })
}
