/** Regenerate charts/vend/crds/serviceoffers.yaml from the offer schema: `node --import tsx src/k8s/writeCrd.ts`. */
import { writeFileSync } from 'node:fs'
import { serviceOfferCrdYaml } from './crd.ts'

export const CRD_FILE = new URL('../../charts/vend/crds/serviceoffers.yaml', import.meta.url).pathname

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(CRD_FILE, serviceOfferCrdYaml())
  console.log(`wrote ${CRD_FILE}`)
}
