/**
 * The tiny random-weight GGUF used by inference tests: generated once by scripts/make-tiny-gguf.mjs into
 * node_modules/.cache/vend/ and reused (the generator is deterministic and writes atomically, so concurrent
 * test files are safe). Real llama.cpp tokenization, generation and streaming; gibberish text.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dir = `${root}node_modules/.cache/vend`
const file = `${dir}/tiny.gguf`

/** Path of the tiny model (64-dim embeddings, 2 layers, 418-token vocabulary, 2048-token context). */
export async function ensureTinyModel(): Promise<string> {
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true })
    execFileSync(process.execPath, [`${root}scripts/make-tiny-gguf.mjs`, file, '64', '2'], { stdio: 'inherit' })
  }
  return file
}
