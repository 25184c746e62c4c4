/**
 * A GGUF model loaded in this process with node-llama-cpp (an optional dependency, imported lazily). CPU only,
 * no compilation, an explicit thread count (the library default oversubscribes 2-core machines and runs
 * ~600x slower), and GeneralChatWrapper (resolving the model's Jinja template costs ~500 ms per request).
 *
 * Token accounting is exact: prepare() builds the very token list that is evaluated, so its length is the
 * prompt_tokens reported, and every generated token passes through onToken.
 */
import { statSync } from 'node:fs'
import type { ChatHistoryItem, Llama, LlamaCompletion, LlamaContext, LlamaEmbeddingContext, LlamaModel, LlamaText, Token } from 'node-llama-cpp'
import { BaseError } from '../errors/base.ts'
import type { ChatMessage, InferenceRequest } from './validateRequest.ts'

type NodeLlamaCpp = typeof import('node-llama-cpp')

export type EmbeddedRuntimeReason = 'RuntimeNotInstalled' | 'ModelFileMissing' | 'LoadFailed'

/** The embedded runtime cannot serve the model; `reason` is the ModelReady condition reason. */
export class EmbeddedRuntimeError extends BaseError {
  override name = 'EmbeddedRuntimeError'
  readonly reason: EmbeddedRuntimeReason
  constructor(reason: EmbeddedRuntimeReason, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options)
    this.reason = reason
  }
}

export type LoadModelOptions = {
  file: string
  /** CPU threads for evaluation (default 1). */
  threads?: number
  /** Context window in tokens (default: the model's training context, at most 4096). */
  contextSize?: number
}

/** A request turned into tokens: what will be evaluated, and when generation must stop. */
export type PreparedPrompt = { tokens: Token[]; promptTokens: number; stopTriggers: readonly LlamaText[] }

export type GenerateOptions = {
  maxTokens: number
  temperature?: number
  topP?: number
  seed?: number
  stop?: string[]
  signal?: AbortSignal
  onToken?: (count: number) => void
  onText?: (text: string) => void
}
export type Generation = { text: string; completionTokens: number; finishReason: 'stop' | 'length' }

export type LoadedModel = {
  contextSize: number
  /** Longest embedding input, in tokens (beginning and end tokens included), plus one. */
  embeddingContextSize: number
  tokenize(text: string): Token[]
  prepare(req: InferenceRequest): PreparedPrompt
  /** Generate from a prepared prompt. Callers run one generation at a time. */
  generate(prompt: PreparedPrompt, options: GenerateOptions): Promise<Generation>
  /** Tokens an embedding of this input evaluates (with the model's beginning and end tokens). */
  embeddingTokens(input: string): number
  /** One vector per input, and the tokens evaluated. */
  embed(inputs: string[]): Promise<{ vectors: number[][]; promptTokens: number }>
  dispose(): Promise<void>
}

let shared: Promise<{ lib: NodeLlamaCpp; llama: Llama }> | undefined

/** One llama.cpp binding per process, loaded on first use. */
function llamaRuntime(): Promise<{ lib: NodeLlamaCpp; llama: Llama }> {
  shared ??= (async () => {
    let lib: NodeLlamaCpp
    try {
      lib = await import('node-llama-cpp')
    } catch (err) {
      throw new EmbeddedRuntimeError('RuntimeNotInstalled', 'The embedded model runtime (node-llama-cpp) is not installed.', {
        cause: err, hint: 'Install it with `npm install node-llama-cpp@3.22.1`, or serve the model with Ollama or another OpenAI-compatible server and use --upstream.',
      })
    }
    const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error })
    return { lib, llama }
  })()
  shared.catch(() => { shared = undefined })
  return shared
}

export async function loadLlamaModel(options: LoadModelOptions): Promise<LoadedModel> {
  try {
    if (!statSync(options.file).isFile()) throw new Error('not a file')
  } catch (err) {
    throw new EmbeddedRuntimeError('ModelFileMissing', `The model file ${options.file} does not exist.`, {
      cause: err, hint: 'Check spec.model.file (--model-file): it must be the path of a .gguf file readable by the daemon.',
    })
  }
  const { lib, llama } = await llamaRuntime()
  const threads = options.threads ?? 1
  let model: LlamaModel
  let context: LlamaContext
  try {
    model = await llama.loadModel({ modelPath: options.file })
  } catch (err) {
    throw new EmbeddedRuntimeError('LoadFailed', `The model file ${options.file} could not be loaded: ${err instanceof Error ? err.message : String(err)}.`, {
      cause: err, hint: 'Check that it is a complete GGUF file supported by llama.cpp.',
    })
  }
  const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 4096)
  try {
    context = await model.createContext({ contextSize, threads, sequences: 1 })
  } catch (err) {
    await model.dispose()
    throw new EmbeddedRuntimeError('LoadFailed', `No context of ${contextSize} tokens could be created for ${options.file}: ${err instanceof Error ? err.message : String(err)}.`, {
      cause: err, hint: 'Lower spec.model.contextSize.',
    })
  }
  const completion: LlamaCompletion = new lib.LlamaCompletion({ contextSequence: context.getSequence() })
  const wrapper = new lib.GeneralChatWrapper()
  const beginning = beginningToken(lib, model)
  const end = endToken(lib, model)
  let embedding: Promise<LlamaEmbeddingContext> | undefined

  const withBeginning = (tokens: Token[]): PreparedPrompt['tokens'] =>
    beginning !== null && tokens[0] === beginning ? tokens.slice(1) : tokens

  const embeddingContextSize = Math.min(contextSize, 2048)
  return {
    contextSize,
    embeddingContextSize,
    tokenize: (text) => model.tokenize(text),
    prepare(req) {
      if (req.kind === 'embedding') throw new Error('prepare() is for chat and completion requests')
      let tokens: Token[]
      let stopTriggers: readonly LlamaText[] = []
      if (req.kind === 'chat') {
        const state = wrapper.generateContextState({ chatHistory: [...req.messages.map(historyItem), { type: 'model', response: [] }] })
        tokens = state.contextText.tokenize(model.tokenizer)
        // Kept as LlamaText: a special token such as EOS must not become the literal text "EOS".
        stopTriggers = state.stopGenerationTriggers
      } else {
        tokens = model.tokenize(req.prompt)
      }
      // LlamaCompletion prepends the model's beginning token itself: count it once, pass the rest.
      const rest = withBeginning(tokens)
      return { tokens: rest, promptTokens: rest.length + (beginning === null ? 0 : 1), stopTriggers }
    },
    async generate(prompt, o) {
      let completionTokens = 0
      const res = await completion.generateCompletionWithMeta(prompt.tokens, {
        maxTokens: o.maxTokens,
        disableContextShift: true,
        customStopTriggers: [...prompt.stopTriggers, ...(o.stop ?? [])],
        ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
        ...(o.topP !== undefined ? { topP: o.topP } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.signal ? { signal: o.signal, stopOnAbortSignal: true } : {}),
        onToken: (t) => { completionTokens += t.length; o.onToken?.(completionTokens) },
        ...(o.onText ? { onTextChunk: o.onText } : {}),
      })
      return { text: res.response, completionTokens, finishReason: res.metadata.stopReason === 'maxTokens' ? 'length' : 'stop' }
    },
    embeddingTokens(input) {
      const tokens = model.tokenize(input)
      if (tokens.length === 0) return 0
      return tokens.length + (beginning !== null && tokens[0] !== beginning ? 1 : 0) + (end !== null && tokens.at(-1) !== end ? 1 : 0)
    },
    async embed(inputs) {
      embedding ??= model.createEmbeddingContext({ contextSize: embeddingContextSize, threads })
      const ctx = await embedding
      const vectors: number[][] = []
      let promptTokens = 0
      for (const input of inputs) {
        promptTokens += ctx.calculateInputLength(input)
        vectors.push([...(await ctx.getEmbeddingFor(input)).vector])
      }
      return { vectors, promptTokens }
    },
    async dispose() {
      if (embedding) await (await embedding.catch(() => undefined))?.dispose()
      await context.dispose()
      await model.dispose()
    },
  }
}

/** The token LlamaCompletion puts before every input (node-llama-cpp's resolveBeginningTokenToPrepend). */
function beginningToken(lib: NodeLlamaCpp, model: LlamaModel): Token | null {
  const v = model.vocabularyType
  if (v === lib.LlamaVocabularyType.rwkv || v === lib.LlamaVocabularyType.ugm) return null
  if (v === lib.LlamaVocabularyType.wpm) return model.tokens.bos
  return model.tokens.shouldPrependBosToken ? model.tokens.bos : null
}

/** The token appended to embedding inputs (node-llama-cpp's resolveEndTokenToAppend). */
function endToken(lib: NodeLlamaCpp, model: LlamaModel): Token | null {
  const v = model.vocabularyType
  if (v === lib.LlamaVocabularyType.rwkv) return null
  if (v === lib.LlamaVocabularyType.wpm) return model.tokens.sep
  if (v === lib.LlamaVocabularyType.ugm) return model.tokens.eos
  return model.tokens.shouldAppendEosToken ? model.tokens.eos : null
}

function historyItem(m: ChatMessage): ChatHistoryItem {
  if (m.role === 'system' || m.role === 'developer') return { type: 'system', text: m.content }
  if (m.role === 'assistant') return { type: 'model', response: [m.content] }
  return { type: 'user', text: m.content }
}
