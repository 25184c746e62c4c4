/**
 * `vend pay <url>`: call a paid HTTP endpoint and pay it with x402 (v2 or v1), printing the response body on stdout
 * and the receipt (transaction, amount, network) on stderr, or both as JSON with --json. The key comes from
 * --key, VEND_PAY_KEY, --keystore (a keystore v3 file) or --dev (the dev chain's funded buyer); it is never printed.
 */
import { decodePaymentRequiredHeader } from '@x402/core/http'
import type { Command } from 'commander'
import { privateKeyToAccount } from 'viem/accounts'
import { readDevChain } from '../../devchain/devChain.ts'
import { BaseError, InvalidInputError } from '../../errors/base.ts'
import { readPassphrase } from '../../identity/passphrase.ts'
import { loadWallet, parsePrivateKey } from '../../identity/wallet.ts'
import { formatAtomic, isDecimalString } from '../../offer/price.ts'
import { PaymentRefusedError, payRequest, type PayResult } from '../../payments/buyer.ts'
import type { CliContext } from '../context.ts'
import { json } from '../format.ts'

type PayFlags = {
  request?: string; data?: string; header: string[]; key?: string; keystore?: string; passwordFile?: string
  maxAmount: string; rpcUrl?: string; dev?: boolean; json?: boolean
}

function headerList(value: string, prev: string[]): string[] {
  return [...prev, value]
}

export function register(program: Command, ctx: CliContext): void {
  program.command('pay')
    .description('Call a paid HTTP endpoint and pay it with x402.')
    .argument('<url>', 'the endpoint to call')
    .option('-X, --request <method>', 'HTTP method (default GET, or POST with -d)')
    .option('-d, --data <body>', 'request body')
    .option('-H, --header <header>', 'request header "Name: value" (repeatable)', headerList, [])
    .option('--key <hex>', 'buyer private key (prefer VEND_PAY_KEY: flags show up in the process list)')
    .option('--keystore <path>', 'buyer keystore v3 file (passphrase from --password-file, VEND_WALLET_PASSWORD or a prompt)')
    .option('--password-file <file>', 'read the keystore passphrase from this file')
    .option('--max-amount <decimal>', 'most one payment may cost, in token units', '1')
    .option('--rpc-url <url>', 'JSON-RPC URL of the payment\'s chain, to pay `upto` (default VEND_PAY_RPC_URL, or the running dev chain)')
    .option('--dev', 'pay with the dev chain\'s funded buyer account')
    .option('--json', 'print {status, headers, body, receipt} as JSON')
    .addHelpText('after', `
Examples:
  VEND_PAY_KEY=0x... vend pay http://127.0.0.1:8402/services/weather/today
  vend pay --dev -X POST -d '{"q":"hi"}' -H 'content-type: application/json' http://127.0.0.1:8402/services/echo
  vend pay --keystore ./buyer.json --max-amount 0.05 https://seller.example/services/api --json`)
    .action(async (url: string, flags: PayFlags) => {
      if (!/^https?:\/\//.test(url)) throw new InvalidInputError(`Invalid URL "${url}".`, { hint: 'Give a full http:// or https:// URL.' })
      if (!isDecimalString(flags.maxAmount)) throw new InvalidInputError(`Invalid --max-amount "${flags.maxAmount}".`, { hint: 'Use a decimal number in token units, like 0.05.' })
      const headers: Record<string, string> = {}
      for (const h of flags.header) {
        const i = h.indexOf(':')
        if (i <= 0) throw new InvalidInputError(`Invalid header "${h}".`, { hint: 'Write headers as "Name: value".' })
        headers[h.slice(0, i).trim()] = h.slice(i + 1).trim()
      }
      const account = await buyerAccount(ctx, flags)
      const rpcUrl = flags.rpcUrl ?? ctx.env.VEND_PAY_RPC_URL ?? readDevChain(ctx.paths())?.rpcUrl
      const result = await payRequest({
        url, account, maxAmount: flags.maxAmount, headers, ...(rpcUrl ? { rpcUrl } : {}),
        ...(flags.request ? { method: flags.request.toUpperCase() } : {}), ...(flags.data === undefined ? {} : { body: flags.data }),
      })
      print(ctx, result, flags.json === true)
      if (result.status === 402) throw new PaymentRefusedError(`The payment was refused (HTTP 402)${refusalReason(result)}.`, { hint: 'Check the buyer\'s balance and --max-amount, then try again.' })
      if (result.status >= 400) throw new BaseError(`The server answered HTTP ${result.status}.`)
    })
}

async function buyerAccount(ctx: CliContext, flags: PayFlags) {
  const sources = [flags.key !== undefined, flags.keystore !== undefined, flags.dev === true].filter(Boolean).length
  if (sources > 1) throw new InvalidInputError('Give only one of --key, --keystore and --dev.')
  if (flags.keystore) {
    const password = await readPassphrase({ env: ctx.env, passwordFile: flags.passwordFile, canPrompt: ctx.canPrompt() })
    return loadWallet({ ...ctx.paths(), keystore: flags.keystore }, password)
  }
  if (flags.dev) return privateKeyToAccount(parsePrivateKey(devBuyerKey(ctx)))
  const key = flags.key ?? ctx.env.VEND_PAY_KEY
  if (!key) throw new InvalidInputError('No buyer key given.', { hint: 'Set VEND_PAY_KEY, or pass --keystore <file> or --dev.', exitCode: 4 })
  return privateKeyToAccount(parsePrivateKey(key))
}

function devBuyerKey(ctx: CliContext): string {
  const info = readDevChain(ctx.paths())
  if (!info) throw new InvalidInputError('The dev chain is not running.', { hint: 'Start it with `vend stack up --dev`.' })
  return info.buyer.privateKey
}

/** ": reason - message" from a refusal's JSON body or PAYMENT-REQUIRED header, when the server gave one. */
function refusalReason(r: PayResult): string {
  let reason: string | undefined
  let message: string | undefined
  try {
    const body = JSON.parse(r.body) as { reason?: unknown; error?: unknown; message?: unknown }
    reason = typeof body.reason === 'string' ? body.reason : typeof body.error === 'string' ? body.error : undefined
    message = typeof body.message === 'string' ? body.message : undefined
  } catch { /* not JSON */ }
  if (!reason && r.headers['payment-required']) {
    try { reason = decodePaymentRequiredHeader(r.headers['payment-required']).error } catch { /* malformed */ }
  }
  return reason ? `: ${reason}${message ? ` (${message})` : ''}` : ''
}

function print(ctx: CliContext, r: PayResult, asJson: boolean): void {
  if (asJson) {
    let body: unknown = r.body
    try { body = JSON.parse(r.body) } catch { /* not JSON: keep the text */ }
    ctx.io.out(json({ status: r.status, headers: r.headers, body, receipt: r.receipt }))
    return
  }
  ctx.io.out(r.body)
  const rc = r.receipt
  const upTo = rc && rc.amount !== rc.maxAmount ? `, at most ${formatAtomic(BigInt(rc.maxAmount), rc.decimals)} (${rc.scheme})` : ''
  if (rc?.success) ctx.io.err(`✓ Paid ${formatAtomic(BigInt(rc.amount), rc.decimals)} (${rc.amount} atomic units of ${rc.asset}${upTo}) on ${rc.network}, transaction ${rc.transaction}`)
  else if (rc) ctx.io.err(`! Payment not settled on ${rc.network}${rc.transaction ? `, transaction ${rc.transaction}` : ''}`)
  else if (r.status < 400) ctx.io.err(`HTTP ${r.status}, no payment receipt`)
}
