/**
 * Incremental reader of an OpenAI-style SSE completion stream, fed the upstream's bytes as they pass through
 * the gateway. It collects the usage the upstream reports (the final chunk when stream_options.include_usage
 * is set; every chunk with vLLM's continuous_usage_stats) and counts the content deltas delivered, so an
 * abandoned stream can be settled for what the buyer received.
 *
 * When the buyer did not ask for usage but the gateway did (to meter), the usage-only chunk (choices: [])
 * is removed from what is forwarded, so clients that read choices[0] of every chunk keep working.
 */
import { parseUsage, type TokenUsage } from './metering.ts'

export type StreamMeterResult = {
  /** The last usage the upstream reported, if any. */
  usage: TokenUsage | undefined
  /** Chunks that carried generated text (content or text). Each is at least one token, so this is a lower bound. */
  contentDeltas: number
  /** The upstream sent `data: [DONE]` or a finish_reason: the generation completed. */
  finished: boolean
}

export type StreamMeter = {
  /** Feed upstream bytes; returns the bytes to forward to the buyer (the same buffer unless chunks are removed). */
  push(chunk: Uint8Array): Uint8Array
  /** Bytes held back at the end (an incomplete event); forward them when the upstream ends. */
  flush(): Uint8Array
  result(): StreamMeterResult
}

export type StreamMeterOptions = {
  /** Remove usage-only chunks from the forwarded bytes (the buyer did not set stream_options.include_usage). */
  dropUsageChunks?: boolean
}

const EVENT_END = /\r?\n\r?\n|\r\r/

export function createStreamMeter(options: StreamMeterOptions = {}): StreamMeter {
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let pending = ''
  let usage: TokenUsage | undefined
  let contentDeltas = 0
  let finished = false

  /** Read one complete event; true when it must not be forwarded. */
  const readEvent = (event: string): boolean => {
    let data = ''
    for (const line of event.split(/\r?\n|\r/)) {
      if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5)
    }
    if (!data) return false
    if (data === '[DONE]') { finished = true; return false }
    let chunk: unknown
    try { chunk = JSON.parse(data) } catch { return false }
    if (typeof chunk !== 'object' || chunk === null) return false
    const c = chunk as Record<string, unknown>
    const u = parseUsage(c['usage'])
    if (u) usage = u
    const choices = Array.isArray(c['choices']) ? c['choices'] as unknown[] : []
    for (const choice of choices) {
      if (typeof choice !== 'object' || choice === null) continue
      const ch = choice as Record<string, unknown>
      const delta = ch['delta'] as Record<string, unknown> | undefined
      const text = typeof ch['text'] === 'string' ? ch['text'] : typeof delta?.['content'] === 'string' ? delta['content'] : ''
      if (text) contentDeltas++
      if (typeof ch['finish_reason'] === 'string') finished = true
    }
    return options.dropUsageChunks === true && u !== undefined && choices.length === 0
  }

  return {
    push(bytes) {
      pending += decoder.decode(bytes, { stream: true })
      let forward = ''
      let dropped = false
      for (;;) {
        const m = EVENT_END.exec(pending)
        if (!m) break
        const end = m.index + m[0].length
        const event = pending.slice(0, end)
        pending = pending.slice(end)
        if (readEvent(event)) dropped = true
        else forward += event
      }
      if (!options.dropUsageChunks) return bytes
      // Forward complete events only, so a removed chunk is never half-sent.
      return dropped || forward.length ? encoder.encode(forward) : new Uint8Array(0)
    },
    flush() {
      pending += decoder.decode()
      const rest = pending
      pending = ''
      if (rest.trim()) readEvent(rest)
      return options.dropUsageChunks ? encoder.encode(rest) : new Uint8Array(0)
    },
    result: () => ({ usage, contentDeltas, finished }),
  }
}

/**
 * Tokens to settle for a stream. With usage reported: that usage (for an abandoned stream it is the last
 * running total seen, which counts only tokens already delivered). Without: the prompt tokens counted before
 * the request plus one token per content delta delivered (a lower bound: never more than was generated).
 */
export function streamUsage(result: StreamMeterResult, promptTokens: number): TokenUsage {
  return result.usage ?? { promptTokens, completionTokens: result.contentDeltas }
}
