/**
 * Incremental reader of an OpenAI-style SSE completion stream, fed the upstream's bytes as they pass through
 * the gateway. It collects the usage the upstream reports (the final chunk when stream_options.include_usage
 * is set; every chunk with vLLM's continuous_usage_stats) and counts the content deltas delivered, so an
 * abandoned stream can be settled for what the buyer received.
 *
 * When the buyer did not ask for usage but the gateway did (to meter), usage is removed from what is
 * forwarded: the usage-only chunk (choices: []) is dropped and a `usage` field on other chunks is deleted, so
 * the buyer gets the stream it asked for (clients often read choices[0] of every chunk).
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
  /** Remove usage from the forwarded bytes (the buyer did not set stream_options.include_usage). */
  dropUsage?: boolean
}

const EVENT_END = /\r?\n\r?\n|\r\r/

export function createStreamMeter(options: StreamMeterOptions = {}): StreamMeter {
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let pending = ''
  let usage: TokenUsage | undefined
  let contentDeltas = 0
  let finished = false

  /** Read one complete event; returns what to forward of it. */
  const readEvent = (event: string): string => {
    let data = ''
    for (const line of event.split(/\r?\n|\r/)) {
      if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5)
    }
    if (!data) return event
    if (data === '[DONE]') { finished = true; return event }
    let chunk: unknown
    try { chunk = JSON.parse(data) } catch { return event }
    if (typeof chunk !== 'object' || chunk === null) return event
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
    if (!options.dropUsage || c['usage'] === undefined) return event
    if (choices.length === 0) return ''
    delete c['usage']
    return `data: ${JSON.stringify(c)}\n\n`
  }

  return {
    push(bytes) {
      pending += decoder.decode(bytes, { stream: true })
      let forward = ''
      for (;;) {
        const m = EVENT_END.exec(pending)
        if (!m) break
        const end = m.index + m[0].length
        forward += readEvent(pending.slice(0, end))
        pending = pending.slice(end)
      }
      // Rewriting forwards complete events only, so a changed chunk is never half-sent.
      return options.dropUsage ? encoder.encode(forward) : bytes
    },
    flush() {
      pending += decoder.decode()
      const rest = pending
      pending = ''
      const out = rest.trim() ? readEvent(rest) : rest
      return options.dropUsage ? encoder.encode(out) : new Uint8Array(0)
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
