/**
 * Runs an async task one at a time and coalesces requests: run() resolves after a complete run that started
 * after the call; calls made while a run is in progress share the single next run. Options of coalesced calls
 * are merged with `merge`.
 */
export type SerialRunner<O> = { run(options: O): Promise<void>; idle(): Promise<void> }

export function createSerialRunner<O>(task: (options: O) => Promise<void>, merge: (a: O, b: O) => O): SerialRunner<O> {
  let current: Promise<void> | undefined
  let next: { promise: Promise<void>; options: O } | undefined

  const start = (options: O): Promise<void> => {
    const p = task(options).finally(() => { if (current === p) current = undefined })
    current = p
    return p
  }

  return {
    run(options) {
      if (!current) return start(options)
      if (next) {
        next.options = merge(next.options, options)
        return next.promise
      }
      const slot: { promise: Promise<void>; options: O } = { promise: Promise.resolve(), options }
      slot.promise = current.catch(() => {}).then(() => {
        next = undefined
        return start(slot.options)
      })
      next = slot
      return slot.promise
    },
    async idle() {
      while (current || next) await (next?.promise ?? current)?.catch(() => {})
    },
  }
}
