#!/usr/bin/env node
// Builds src/devchain/artifacts.json (abi + creation bytecode) so the dev chain never needs solc at runtime:
//   - every contracts/**/*.sol, compiled with solc-js (the solc npm package pins the compiler version),
//     OpenZeppelin imports resolved from node_modules;
//   - Multicall3, whose creation bytecode viem ships in its constants (not exported, so read from its source file).
// Usage: node scripts/compile-contracts.mjs           write the artifacts
//        node scripts/compile-contracts.mjs --check   exit 1 when the committed artifacts differ from a fresh build
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import solc from 'solc'
import { multicall3Abi } from 'viem'

const require = createRequire(import.meta.url)
const root = new URL('..', import.meta.url).pathname
const contractsDir = join(root, 'contracts')
export const artifactsFile = join(root, 'src/devchain/artifacts.json')

function compileSolidity() {
  const sources = {}
  for (const f of readdirSync(contractsDir, { recursive: true }).filter((n) => n.endsWith('.sol')).sort()) {
    sources[f] = { content: readFileSync(join(contractsDir, f), 'utf8') }
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun', // OpenZeppelin 5.4 uses mcopy
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  }
  const findImports = (p) => {
    try { return { contents: readFileSync(require.resolve(p), 'utf8') } } catch { return { error: `not found: ${p}` } }
  }
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }))
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'))
  const result = {}
  for (const file of Object.keys(sources)) {
    for (const [name, c] of Object.entries(out.contracts[file] ?? {})) {
      if (c.evm.bytecode.object) result[name] = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` }
    }
  }
  return result
}

function multicall3() {
  const src = readFileSync(join(dirname(require.resolve('viem/package.json')), '_esm/constants/contracts.js'), 'utf8')
  const m = /export const multicall3Bytecode = '(0x[0-9a-f]+)'/.exec(src)
  if (!m) throw new Error('multicall3Bytecode not found in viem/_esm/constants/contracts.js')
  return { abi: multicall3Abi, bytecode: m[1] }
}

export function buildArtifacts() {
  const artifacts = { ...compileSolidity(), Multicall3: multicall3() }
  return `${JSON.stringify({ solc: solc.version(), contracts: artifacts }, null, 1)}\n`
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const fresh = buildArtifacts()
  if (process.argv.includes('--check')) {
    let committed = ''
    try { committed = readFileSync(artifactsFile, 'utf8') } catch { /* missing counts as drift */ }
    if (committed !== fresh) {
      console.error(`${artifactsFile} is out of date with contracts/ (or the compiler). Run: node scripts/compile-contracts.mjs`)
      process.exit(1)
    }
    console.log('artifacts up to date')
  } else {
    writeFileSync(artifactsFile, fresh)
    console.log(`wrote ${artifactsFile}`)
  }
}
