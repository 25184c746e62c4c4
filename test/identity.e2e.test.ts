/**
 * [identity] acceptance through the real CLI and daemon on the dev chain: `stack up --dev` creates the stack
 * wallet (VEND_WALLET_PASSWORD) and gives it gas, `sell http` with defaults registers the stack on the dev
 * chain's ERC-8004 registry with no manual step, tokenURI points at the served registration file, operator
 * registration fields reach that file verbatim, and down/up does not mint a second identity.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createPublicClient, http, parseAbi, type Address } from 'viem'
import { IDENTITY_REGISTRY_TESTNET } from '../src/offer/networks.ts'
import { eventually, freePort, startUpstream, tempHome, vend, type TestServer } from './helpers/vend.ts'

const PAY_TO = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'
const ENV = { VEND_WALLET_PASSWORD: 'identity-e2e-passphrase' }
const registryAbi = parseAbi([
  'function tokenURI(uint256 agentId) view returns (string)',
  'function balanceOf(address owner) view returns (uint256)',
])

type Status = { endpoint: string | null; agentId: string | number | null; registrationTxHash: string | null; conditions: { type: string; status: string; reason?: string; message?: string }[] }
type RegistrationFile = {
  name: string; description: string; active: boolean
  services: ({ name: 'web'; endpoint: string } | { name: 'OASF'; skills: string[]; domains: string[] })[]
  registrations: { agentId: number; agentRegistry: string }[]
}

let home: { home: string; cleanup: () => void }
let upstream: TestServer

before(async () => {
  home = tempHome('vend-identity-e2e-')
  upstream = await startUpstream()
})

after(async () => {
  if (home) {
    await vend(home.home, ['stack', 'down', '--yes'], { env: ENV })
    home.cleanup()
  }
  await upstream?.close()
})

async function run(args: string[]): Promise<string> {
  const r = await vend(home.home, args, { env: ENV })
  assert.equal(r.code, 0, `vend ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** The registry on the dev chain, read through `vend dev info --json`'s RPC URL. */
async function registry(): Promise<{ tokenURI: (id: bigint) => Promise<string>; balanceOf: (owner: Address) => Promise<bigint> }> {
  const { rpcUrl, identityRegistry } = JSON.parse(await run(['dev', 'info', '--json'])) as { rpcUrl: string; identityRegistry: Address }
  assert.equal(identityRegistry.toLowerCase(), IDENTITY_REGISTRY_TESTNET.toLowerCase())
  const c = createPublicClient({ transport: http(rpcUrl) })
  const address = IDENTITY_REGISTRY_TESTNET
  return {
    tokenURI: (id) => c.readContract({ address, abi: registryAbi, functionName: 'tokenURI', args: [id] }),
    balanceOf: (owner) => c.readContract({ address, abi: registryAbi, functionName: 'balanceOf', args: [owner] }),
  }
}

/** Poll `sell status <name> --json` until the offer's Registered condition is True (it comes from the chain). */
async function registered(name: string): Promise<Status> {
  return eventually(`${name} Registered=True`, async () => {
    const s = JSON.parse(await run(['sell', 'status', name, '--json'])) as Status
    const c = s.conditions.find((x) => x.type === 'Registered')
    if (c?.status !== 'True') throw new Error(`Registered=${c?.status} ${c?.reason ?? ''}: ${c?.message ?? ''}`)
    return s
  }, 90_000)
}

test('dev chain: sell with defaults registers automatically, tokenURI is the served file, operator fields verbatim, down/up mints no second identity', async () => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const up = ['stack', 'up', '--dev', '--listen', `127.0.0.1:${port}`]
  await run(up)
  await run(['sell', 'http', 'weather', '--upstream', upstream.url, '--price', '0.001', '--pay-to', PAY_TO, '--chain', 'local'])

  // (1) Registered with no manual step: the daemon created the wallet and gave it gas.
  const weather = await registered('weather')
  assert.ok(weather.agentId !== null, 'agentId in sell status')
  assert.match(weather.registrationTxHash ?? '', /^0x[0-9a-f]{64}$/)
  const agentId = BigInt(weather.agentId)

  const agentUri = `${base}/.well-known/agent-registration.json`
  assert.equal(await (await registry()).tokenURI(agentId), agentUri)

  const served = async (): Promise<RegistrationFile> => {
    const res = await fetch(agentUri)
    assert.equal(res.status, 200)
    return await res.json() as RegistrationFile
  }
  let file = await served()
  assert.equal(file.active, true)
  assert.ok(weather.endpoint, 'weather has an endpoint')
  assert.ok(file.services.some((s) => s.name === 'web' && s.endpoint === weather.endpoint), `weather endpoint ${weather.endpoint} in ${JSON.stringify(file.services)}`)
  assert.deepEqual(file.registrations, [{ agentId: Number(agentId), agentRegistry: `eip155:31337:${IDENTITY_REGISTRY_TESTNET}` }])

  // (3) Operator registration fields survive verbatim. The oldest published offer names the agent, so weather
  // (sold with defaults) goes first and a-forecast, sold with the operator's fields, is then the one named.
  await run(['sell', 'delete', 'weather', '--yes'])
  const name = 'Forecast Agent — “verbatim” <b>ünïcode</b>'
  const description = '  Hourly forecasts; 100% x402-paid.\nSecond line.  '
  await run(['sell', 'http', 'a-forecast', '--upstream', upstream.url, '--price', '0.002', '--pay-to', PAY_TO, '--chain', 'local',
    '--register-name', name, '--register-description', description,
    '--register-skills', 'natural_language_processing/summarization', '--register-skills', 'data/weather-forecast',
    '--register-domains', 'weather', '--register-domains', 'Agriculture & Farming'])
  const forecast = await registered('a-forecast')
  assert.equal(String(forecast.agentId), String(agentId), 'one agent per stack and chain')
  file = await eventually('the registration file to list a-forecast', async () => {
    const f = await served()
    return f.services.some((s) => s.name === 'web' && s.endpoint === forecast.endpoint) ? f : undefined
  })
  assert.equal(file.name, name)
  assert.equal(file.description, description)
  const oasf = file.services.find((s) => s.name === 'OASF')
  assert.ok(oasf && oasf.name === 'OASF', 'an OASF service entry')
  assert.deepEqual(oasf.skills, ['natural_language_processing/summarization', 'data/weather-forecast'])
  assert.deepEqual(oasf.domains, ['weather', 'Agriculture & Farming'])

  // (2) down/up: the same agent, no second mint.
  const wallet = (JSON.parse(await run(['wallet', 'show', '--json'])) as { address: Address }).address
  assert.equal(await (await registry()).balanceOf(wallet), 1n)
  await run(['stack', 'down', '--yes'])
  await run(up)
  const again = await registered('a-forecast')
  assert.equal(String(again.agentId), String(agentId))
  const reread = await registry()
  assert.equal(await reread.balanceOf(wallet), 1n)
  assert.equal(await reread.tokenURI(agentId), agentUri)
})
