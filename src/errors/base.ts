/**
 * One error type for everything Vend reports. `shortMessage` is one sentence saying what is wrong;
 * `hint` says what to do next. The CLI prints both on one line; the daemon logs `name` and fields.
 */
export type BaseErrorOptions = {
  cause?: unknown
  hint?: string | undefined
  details?: string | undefined
  /** Process exit code the CLI uses for this failure (default 1). */
  exitCode?: number
}

export class BaseError extends Error {
  override name = 'BaseError'
  readonly shortMessage: string
  readonly hint: string | undefined
  readonly details: string | undefined
  readonly exitCode: number

  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    const parts = [shortMessage]
    if (options.hint) parts.push(options.hint)
    super(parts.join(' '), options.cause === undefined ? undefined : { cause: options.cause })
    this.shortMessage = shortMessage
    this.hint = options.hint
    this.details = options.details
    this.exitCode = options.exitCode ?? 1
  }

  /** The single line the CLI prints: "what is wrong. what to do." */
  line(): string {
    return this.hint ? `${this.shortMessage} ${this.hint}` : this.shortMessage
  }
}

/** A user-supplied value (flag, file field, argument) is invalid. Exit code 2 per CLI convention for usage errors. */
export class InvalidInputError extends BaseError {
  override name = 'InvalidInputError'
  constructor(message: string, options: BaseErrorOptions = {}) {
    super(message, { exitCode: 2, ...options })
  }
}

/** Strip credentials from URLs before they reach a message or a log line. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.username || u.password) { u.username = ''; u.password = '' }
    for (const k of [...u.searchParams.keys()]) if (/key|token|secret|auth|sig/i.test(k)) u.searchParams.set(k, '***')
    return u.toString()
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//')
  }
}
