/** Which cluster: KUBECONFIG or ~/.kube/config (KubeConfig.loadFromDefault), or in-cluster, then an optional context. */
import { KubeConfig } from '@kubernetes/client-node'
import { InvalidInputError } from '../errors/base.ts'

export function loadKubeConfig(context?: string): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromDefault()
  if (context) {
    if (!kc.getContextObject(context)) {
      throw new InvalidInputError(`The Kubernetes context "${context}" is not in your kubeconfig.`, {
        hint: `Pick one of: ${kc.getContexts().map((c) => c.name).join(', ') || '(none)'}; or set KUBECONFIG to the file that has it.`,
      })
    }
    kc.setCurrentContext(context)
  }
  if (!kc.getCurrentCluster()) {
    throw new InvalidInputError('No Kubernetes cluster is configured.', { hint: 'Set KUBECONFIG, or run `kubectl config use-context <name>`, or pass --context.' })
  }
  return kc
}

/** The namespace: the flag, else the context's namespace, else the stack's default. */
export function namespaceFor(kc: KubeConfig, flag: string | undefined, fallback: string): string {
  return flag ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? fallback
}
