/**
 * `vend sell inference <name>`: sell an LLM behind an OpenAI-compatible API, either from an upstream server
 * (--upstream, e.g. Ollama or vLLM) or from a GGUF file the daemon serves itself (--model-file). Same
 * payment and registration flags as `sell http`.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { InvalidInputError } from '../../errors/base.ts'
import type { CliContext } from '../context.ts'
import { chooseLocalUpstream } from '../commands/sellInference.ts'
import { intFlag } from '../flagValues.ts'
import {
  addClosingOptions, addPaymentOptions, addPlacementOptions, OFFER_FLAGS, offerBase, requireFlag, writeNewOffer, type OfferFlags,
} from './offerCommand.ts'

type InferenceFlags = OfferFlags & {
  model?: string
  modelFile?: string
  api?: string
  maxTokens?: string
  threads?: string
  contextSize?: string
}

const FLAGS = {
  ...OFFER_FLAGS, 'spec.model.name': '--model', 'spec.model.file': '--model-file', 'spec.model.api': '--api',
  'spec.model.maxTokens': '--max-tokens', 'spec.model.threads': '--threads', 'spec.model.contextSize': '--context-size',
  'spec.payment.price.perMTok': '--per-mtok',
}

export function addSellInference(sell: Command, ctx: CliContext): void {
  const cmd = sell.command('inference')
    .description('Sell LLM inference: an OpenAI-compatible API (/v1/chat/completions, ...) paid per request or per million tokens.')
    .argument('<name>', 'offer name (lowercase letters, digits and -)')
    .option('--model <name>', 'model name buyers ask for (and the upstream knows)')
    .option('--upstream <url>', 'base URL of an OpenAI-compatible or Ollama server, e.g. http://127.0.0.1:11434')
    .option('--model-file <path>', 'a GGUF file the stack serves itself (instead of --upstream)')
    .option('--api <flavour>', 'upstream API: openai (default) or ollama')
    .option('--max-tokens <n>', 'most tokens a request may ask for; also the default (default: 1024)')
    .option('--threads <n>', 'CPU threads for --model-file')
    .option('--context-size <n>', 'context window for --model-file')
  addPaymentOptions(cmd, { perMTok: true })
  addPlacementOptions(cmd)
  addClosingOptions(cmd)
    .addHelpText('after', `
Examples:
  vend sell inference llama --model llama3.2 --upstream http://127.0.0.1:11434 --api ollama --per-mtok 0.5 --pay-to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
  vend sell inference tiny --model tiny --model-file ./tiny.gguf --price 0.001 --register-name "Tiny LLM"

Buyers call <endpoint>/v1/chat/completions; --per-mtok charges the tokens actually used (prompt + completion).`)
    .action(async (name: string, flags: InferenceFlags) => { await sellInference(ctx, name, flags) })
}

async function sellInference(ctx: CliContext, name: string, flags: InferenceFlags): Promise<void> {
  const model = requireFlag(flags.model, '--model is required: the model name buyers ask for.', 'Pass e.g. --model llama3.2.')
  if (flags.upstream === undefined && flags.modelFile === undefined) {
    const found = await chooseLocalUpstream(ctx.io, model)
    flags = { ...flags, upstream: found.url, api: flags.api ?? found.api }
  }
  if (flags.upstream !== undefined && flags.modelFile !== undefined) {
    throw new InvalidInputError('--upstream and --model-file cannot be combined.', {
      hint: 'Use --upstream <url> for a model server you run, or --model-file <file.gguf> for the stack to serve the model itself.',
    })
  }
  if (flags.api !== undefined && flags.api !== 'openai' && flags.api !== 'ollama') {
    throw new InvalidInputError(`Invalid --api "${flags.api}": expected openai or ollama.`)
  }
  const file = flags.modelFile === undefined ? undefined : resolve(flags.modelFile)
  if (file !== undefined && !existsSync(file)) throw new InvalidInputError(`--model-file ${file} does not exist.`, { hint: 'Give the path of a GGUF model file.' })
  if (file === undefined && (flags.threads !== undefined || flags.contextSize !== undefined)) {
    throw new InvalidInputError('--threads and --context-size only go with --model-file.', { hint: 'Configure them on your model server instead.' })
  }
  const base = offerBase(ctx, name, flags)
  if (file !== undefined && base.headers) throw new InvalidInputError('--upstream-header only goes with --upstream.', { hint: 'Drop it for --model-file.' })
  requireFlag(base.price, 'A price is required: --per-mtok (per million tokens) or --price (per request).', 'Pass e.g. --per-mtok 0.5.')
  const spec = {
    type: 'inference',
    model: {
      name: model,
      ...(file !== undefined && { file }),
      ...(flags.api !== undefined && { api: flags.api }),
      ...(flags.maxTokens !== undefined && { maxTokens: intFlag(flags.maxTokens, '--max-tokens', 1, 1_000_000) }),
      ...(flags.threads !== undefined && { threads: intFlag(flags.threads, '--threads', 1, 256) }),
      ...(flags.contextSize !== undefined && { contextSize: intFlag(flags.contextSize, '--context-size', 128, 10_000_000) }),
    },
    ...(flags.upstream !== undefined && { upstream: { url: flags.upstream, ...(base.headers && { headers: base.headers }) } }),
    ...base.spec,
  }
  await writeNewOffer(ctx, base, spec, flags, FLAGS, 'vend sell inference')
}
