/** Failures of the embedded engine: starting, finding and stopping the background daemon. */
import { BaseError } from '../errors/base.ts'

export class DaemonAlreadyRunningError extends BaseError {
  override name = 'DaemonAlreadyRunningError'
  constructor({ root, socket }: { root: string; socket: string }) {
    super(`A Vend daemon is already running for ${root} (control socket ${socket}).`, {
      hint: 'Stop it with `vend stack down`, or set VEND_HOME to use another stack.',
    })
  }
}

export class DaemonStartFailedError extends BaseError {
  override name = 'DaemonStartFailedError'
  constructor({ reason, log }: { reason: string; log: string }) {
    super(`The Vend daemon did not become ready: ${reason}.`, {
      hint: `See \`vend stack logs\` (${log}) for the cause.`,
    })
  }
}

export class DaemonStopTimeoutError extends BaseError {
  override name = 'DaemonStopTimeoutError'
  constructor({ pid, seconds }: { pid: number; seconds: number }) {
    super(`The Vend daemon (pid ${pid}) did not stop within ${seconds} s.`, {
      hint: 'See `vend stack logs`; if it is stuck, stop it with `kill <pid>`.',
    })
  }
}

export class ControlSocketError extends BaseError {
  override name = 'ControlSocketError'
  constructor({ path, detail, cause }: { path: string; detail: string; cause?: unknown }) {
    super(`The Vend daemon did not answer on its control socket (${path}): ${detail}.`, {
      hint: 'Check `vend stack status` and `vend stack logs`.', cause,
    })
  }
}
