/**
 * Test helper run as a child process: a paid stack (gateway + payments) on a ledger directory that outlives it,
 * so a test can SIGKILL it mid-settlement and start it again. Config comes as JSON in VEND_TEST_DAEMON; prints
 * "READY <gateway url>" when serving.
 */
import type { TestChain } from './testChain.ts'
import { paidOffer, startPaidStack } from './testStack.ts'

type Config = { dir: string; upstreamUrl: string; chain: Pick<TestChain, 'rpcUrl' | 'chainId' | 'caip2' | 'usdc' | 'settler' | 'payTo'> }

const cfg = JSON.parse(process.env.VEND_TEST_DAEMON ?? '{}') as Config
const chain = cfg.chain as TestChain
const stack = await startPaidStack({ chain, dir: cfg.dir, offers: [paidOffer(chain, { name: 'weather', upstreamUrl: cfg.upstreamUrl })] })
process.stdout.write(`READY ${stack.gateway.url}\n`)
process.once('SIGTERM', () => { void stack.stop().then(() => process.exit(0)) })
