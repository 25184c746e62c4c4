/**
 * Copy-paste commands shown to buyers: a curl that shows the 402 challenge and a `vend pay` paid call.
 * Every offer-provided value is shell-quoted, so a model name can never break out of the command.
 */
export type ExampleTarget = { method: string; url: string; type: 'http' | 'inference'; model: string | undefined }

/** POSIX single-quote a shell word. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
}

function chatBody(model: string | undefined): string {
  return JSON.stringify({ ...(model === undefined ? {} : { model }), messages: [{ role: 'user', content: 'Hello!' }] })
}

function hasBody(t: ExampleTarget): boolean {
  return t.type === 'inference' || ['POST', 'PUT', 'PATCH'].includes(t.method)
}

function command(prefix: string[], t: ExampleTarget): string {
  const parts = [...prefix]
  if (t.method !== 'GET') parts.push('-X', t.method)
  if (hasBody(t)) parts.push('-H', shellQuote('content-type: application/json'), '-d', shellQuote(t.type === 'inference' ? chatBody(t.model) : '{}'))
  parts.push(shellQuote(t.url))
  return parts.join(' ')
}

/** `curl -i ...`: the unpaid request, answered with 402 and the PAYMENT-REQUIRED header. */
export function curlExample(t: ExampleTarget): string {
  return command(['curl', '-i'], t)
}

/** `vend pay ...`: signs the x402 payment, retries, and prints the response and the receipt. */
export function vendPayExample(t: ExampleTarget): string {
  return command(['vend', 'pay'], t)
}
