#!/usr/bin/env node
// Writes a tiny random-weight llama-architecture GGUF (v3, F32) that llama.cpp / node-llama-cpp load in tens of
// milliseconds. Adapted from the shared kit's make-tiny-gguf.mjs; no dependencies, deterministic output (fixed PRNG seed).
// The text it generates is gibberish, but tokenization, token accounting and streaming are real llama.cpp.
// Usage: node scripts/make-tiny-gguf.mjs <out.gguf> [n_embd=64] [n_layer=2]   (64/2 -> 554,240 bytes)
// The file is written to <out>.<pid>.tmp and renamed, so concurrent writers never expose a partial file.
import { renameSync, writeFileSync } from 'node:fs'

const [, , out, nEmbdArg = '64', nLayerArg = '2'] = process.argv
if (!out) {
  console.error('usage: node scripts/make-tiny-gguf.mjs <out.gguf> [n_embd=64] [n_layer=2]')
  process.exit(2)
}
const nEmbd = Number(nEmbdArg), nLayer = Number(nLayerArg), nHead = 4, nHeadKv = 4, nFf = nEmbd * 2, ctx = 2048

// Vocabulary: 3 specials, 256 byte-fallback tokens, then SentencePiece-style word pieces.
const tokens = ['<unk>', '<s>', '</s>'], types = [2, 3, 3], scores = [0, 0, 0]
for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`); types.push(6); scores.push(0) }
const words = ('the a of to and in is it you that he was for on are with as I his they be at one have this from or had by hot word but what '
  + 'some we can out other were all there when up use your how said an each she which do their time if will way about many then them write '
  + 'would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water '
  + 'than call first who may down side been now find').split(' ')
const pieces = new Set()
for (const w of words) pieces.add(`\u2581${w}`)
for (const c of 'abcdefghijklmnopqrstuvwxyz.,!?') { pieces.add(c); pieces.add(`\u2581${c}`) }
let score = -1
for (const p of pieces) { tokens.push(p); types.push(1); scores.push(score -= 0.01) }
const nVocab = tokens.length

let seed = 12345
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff - 0.5 }
const tensors = []
const tensor = (name, dims, init) => {
  const n = dims.reduce((a, b) => a * b, 1)
  const f = new Float32Array(n)
  for (let i = 0; i < n; i++) f[i] = init()
  tensors.push({ name, dims, data: Buffer.from(f.buffer), off: 0 })
}
const w = (scale) => () => rnd() * scale
const one = () => 1
tensor('token_embd.weight', [nEmbd, nVocab], w(0.5))
for (let l = 0; l < nLayer; l++) {
  tensor(`blk.${l}.attn_norm.weight`, [nEmbd], one)
  tensor(`blk.${l}.attn_q.weight`, [nEmbd, nEmbd], w(0.2))
  tensor(`blk.${l}.attn_k.weight`, [nEmbd, nEmbd / nHead * nHeadKv], w(0.2))
  tensor(`blk.${l}.attn_v.weight`, [nEmbd, nEmbd / nHead * nHeadKv], w(0.2))
  tensor(`blk.${l}.attn_output.weight`, [nEmbd, nEmbd], w(0.2))
  tensor(`blk.${l}.ffn_norm.weight`, [nEmbd], one)
  tensor(`blk.${l}.ffn_gate.weight`, [nEmbd, nFf], w(0.2))
  tensor(`blk.${l}.ffn_up.weight`, [nEmbd, nFf], w(0.2))
  tensor(`blk.${l}.ffn_down.weight`, [nFf, nEmbd], w(0.2))
}
tensor('output_norm.weight', [nEmbd], one)
tensor('output.weight', [nEmbd, nVocab], w(2))

const chunks = []
const num = (size, write) => (v) => { const b = Buffer.alloc(size); write(b, v); chunks.push(b) }
const u32 = num(4, (b, v) => b.writeUInt32LE(v))
const u64 = num(8, (b, v) => b.writeBigUInt64LE(BigInt(v)))
const i32 = num(4, (b, v) => b.writeInt32LE(v))
const f32 = num(4, (b, v) => b.writeFloatLE(v))
const str = (x) => { const b = Buffer.from(x, 'utf8'); u64(b.length); chunks.push(b) }

const kv = [
  ['general.architecture', 'str', 'llama'], ['general.name', 'str', 'tiny-random-llama'], ['general.alignment', 'u32', 32],
  ['llama.context_length', 'u32', ctx], ['llama.embedding_length', 'u32', nEmbd], ['llama.block_count', 'u32', nLayer],
  ['llama.feed_forward_length', 'u32', nFf], ['llama.attention.head_count', 'u32', nHead], ['llama.attention.head_count_kv', 'u32', nHeadKv],
  ['llama.attention.layer_norm_rms_epsilon', 'f32', 1e-5], ['llama.rope.dimension_count', 'u32', nEmbd / nHead], ['llama.vocab_size', 'u32', nVocab],
  ['tokenizer.ggml.model', 'str', 'llama'], ['tokenizer.ggml.tokens', 'astr', tokens], ['tokenizer.ggml.scores', 'af32', scores],
  ['tokenizer.ggml.token_type', 'ai32', types], ['tokenizer.ggml.unknown_token_id', 'u32', 0], ['tokenizer.ggml.bos_token_id', 'u32', 1],
  ['tokenizer.ggml.eos_token_id', 'u32', 2],
  ['tokenizer.chat_template', 'str', "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"],
]
chunks.push(Buffer.from('GGUF')); u32(3); u64(tensors.length); u64(kv.length)
for (const [k, type, v] of kv) {
  str(k)
  if (type === 'str') { u32(8); str(v) }
  else if (type === 'u32') { u32(4); u32(v) }
  else if (type === 'f32') { u32(6); f32(v) }
  else if (type === 'astr') { u32(9); u32(8); u64(v.length); v.forEach(str) }
  else if (type === 'af32') { u32(9); u32(6); u64(v.length); v.forEach(f32) }
  else if (type === 'ai32') { u32(9); u32(5); u64(v.length); v.forEach(i32) }
}
const pad = (n) => (n + 31) & ~31
let off = 0
for (const t of tensors) { str(t.name); u32(t.dims.length); t.dims.forEach(u64); u32(0 /* F32 */); u64(off); t.off = off; off = pad(off + t.data.length) }
let head = Buffer.concat(chunks)
head = Buffer.concat([head, Buffer.alloc(pad(head.length) - head.length)])
const body = Buffer.alloc(off)
for (const t of tensors) t.data.copy(body, t.off)

const tmp = `${out}.${process.pid}.tmp`
writeFileSync(tmp, Buffer.concat([head, body]))
renameSync(tmp, out)
