/**
 * `vend sell inference` without --upstream and --model-file: look for a model server on this machine (Ollama,
 * then OpenAI-compatible servers on their default ports: vLLM, llama.cpp server, LM Studio, LiteLLM) and say
 * which one was chosen. The command itself is cli/sell/inference.ts.
 */
import { InvalidInputError } from '../../errors/base.ts'
import { detectLocalUpstream, LOCAL_UPSTREAM_CANDIDATES, type UpstreamApi } from '../../inference/upstream.ts'
import type { CliIO } from '../context.ts'

export type DetectedChoice = { url: string; api: UpstreamApi }

/** The first local model server that lists its models; prints the choice (stderr). Throws when there is none. */
export async function chooseLocalUpstream(io: Pick<CliIO, 'err'>, model: string, candidates: readonly DetectedChoice[] = LOCAL_UPSTREAM_CANDIDATES): Promise<DetectedChoice> {
  const found = await detectLocalUpstream({ candidates })
  if (!found) {
    throw new InvalidInputError(`No --upstream or --model-file given, and no local model server answers on ${candidates.map((c) => c.url).join(', ')}.`, {
      hint: 'Start Ollama or another OpenAI-compatible server, or pass --upstream <url> or --model-file <file.gguf>.',
    })
  }
  const has = found.models.length ? `; it lists ${found.models.slice(0, 10).join(', ')}${found.models.length > 10 ? ', ...' : ''}` : ''
  io.err(`Using the ${found.api === 'ollama' ? 'Ollama' : 'OpenAI-compatible'} server at ${found.url} as upstream${has}.`)
  if (!found.models.some((m) => m === model || m === `${model}:latest`)) io.err(`It does not list model ${model} yet: the offer waits (ModelReady) until it does.`)
  return { url: found.url, api: found.api }
}
