/** Why `vend demo` could not run to the end, each with what to do next. */
import { BaseError } from '../errors/base.ts'

export class StackNotInDevModeError extends BaseError {
  override name = 'StackNotInDevModeError'
  constructor({ root }: { root: string }) {
    super(`The stack in ${root} is running without a dev chain, so the demo has nothing to pay on; it was left as it is.`, {
      hint: 'Restart it in dev mode with `vend stack down` then `vend demo` (which runs `vend stack up --dev`), or set VEND_HOME to another directory.',
    })
  }
}

export class DemoOfferNotReadyError extends BaseError {
  override name = 'DemoOfferNotReadyError'
  constructor({ key, why }: { key: string; why: string }) {
    super(`The demo offer ${key} is not serving: ${why}.`, {
      hint: 'See `vend sell status hello -n demo` and `vend stack logs`.',
    })
  }
}

export class DemoCallFailedError extends BaseError {
  override name = 'DemoCallFailedError'
  constructor({ what, status, detail }: { what: string; status: number; detail?: string | undefined }) {
    super(`The ${what} answered HTTP ${status}${detail ? ` (${detail})` : ''}.`, {
      hint: 'See `vend stack logs` for the cause, then run `vend demo` again.',
    })
  }
}
