/**
 * `vend dev info | fund`: the dev chain started by `vend stack up --dev` (its RPC URL, USDC, the funded dev buyer)
 * and minting test USDC / adding ETH to any address on it.
 */
import type { Command } from 'commander'
import { InvalidInputError } from '../../errors/base.ts'
import { fundEth, fundUsdc, readDevChain, type DevChainInfo } from '../../devchain/devChain.ts'
import { NoDevChainError } from '../../devchain/errors.ts'
import { isAddress } from '../../offer/networks.ts'
import { toAtomic } from '../../offer/price.ts'
import type { CliContext } from '../context.ts'
import { json } from '../format.ts'

function requireDevChain(ctx: CliContext): DevChainInfo {
  const info = readDevChain(ctx.paths())
  if (!info) throw new NoDevChainError()
  return info
}

export function register(program: Command, ctx: CliContext): void {
  const dev = program.command('dev')
    .description('The local dev chain: test USDC, a funded dev buyer, an ERC-8004 registry.')
    .addHelpText('after', `
Examples:
  vend stack up --dev                start the stack with a dev chain
  vend dev info                      RPC URL, USDC address and the dev buyer's key
  vend dev fund 0x... 25             mint 25 test USDC to an address
  vend dev fund 0x... 0 --eth 1      add 1 ETH for gas`)

  dev.command('info')
    .description('Show the dev chain: RPC URL, chain, USDC, the dev buyer (address and key) and the identity registry.')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) => {
      const info = requireDevChain(ctx)
      const { rpcUrl, chainId, network, usdc, buyer, identityRegistry } = info
      if (flags.json) return ctx.io.out(json({ rpcUrl, chainId, network, usdc, buyer, identityRegistry }))
      ctx.io.out([
        `RPC URL:            ${rpcUrl}`,
        `Chain:              ${network} (chain id ${chainId})`,
        `USDC:               ${usdc.address} (EIP-712 "${usdc.name}" version "${usdc.version}", ${usdc.decimals} decimals)`,
        `Identity registry:  ${identityRegistry}`,
        `Dev buyer:          ${buyer.address}`,
        `Dev buyer key:      ${buyer.privateKey} (anvil's public dev key: never use it on a real chain)`,
      ].join('\n'))
    })

  dev.command('fund')
    .description('Mint test USDC (and optionally add ETH) to an address on the dev chain.')
    .argument('<address>', 'recipient (0x + 40 hex digits)')
    .argument('<amount>', 'USDC to mint, e.g. 25 or 0.5 (0 with --eth: ETH only)')
    .option('--eth <amount>', 'also add this much ETH, e.g. 1')
    .action(async (address: string, amount: string, flags: { eth?: string }) => {
      if (!isAddress(address)) throw new InvalidInputError(`Invalid address "${address}": expected 0x followed by 40 hex digits.`)
      const usdcAtomic = toAtomic(amount, 6, 'amount')
      const wei = flags.eth === undefined ? 0n : toAtomic(flags.eth, 18, '--eth amount')
      if (usdcAtomic === 0n && wei === 0n) throw new InvalidInputError('Nothing to fund: the amount is 0.', { hint: 'Give a USDC amount above 0, or --eth.' })
      const info = requireDevChain(ctx)
      if (usdcAtomic > 0n) {
        const { txHash } = await fundUsdc(info, address, amount)
        ctx.io.out(`Minted ${amount} USDC to ${address} (tx ${txHash}).`)
      }
      if (wei > 0n) {
        await fundEth(info, address, wei)
        ctx.io.out(`Added ${flags.eth} ETH to ${address}.`)
      }
    })
}
