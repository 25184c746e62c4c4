/**
 * Child-process entry: the engine engineer's benchmark (src/engine/daemon.bench.ts) in a fresh process, so its
 * in-process memory figures are not inflated by the other scenarios. Args: <offers> <upOffers>; rows over IPC.
 */
import { engineScenario } from '../../src/engine/daemon.bench.ts'

const [offers, upOffers] = process.argv.slice(2).map(Number)
const { rows } = await engineScenario({ offers: offers!, upOffers: upOffers! })
process.send?.(rows, () => process.exit(0))
