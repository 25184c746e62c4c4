/**
 * After a payment is locked in the ledger: open the upstream. A failed or >= 400 upstream answer means the
 * buyer is not charged: the row is marked not_charged and the answer (or an error) goes to the buyer as is.
 * Returns the upstream response only when it succeeded and the payment is to be settled.
 */
import type { PaidContext, UpstreamResponse } from '../gateway/createGateway.ts'
import { UpstreamError } from '../gateway/createGateway.ts'
import type { Ledger } from './ledger/types.ts'

export async function openPaidUpstream(ctx: PaidContext, ledger: Ledger, id: number): Promise<UpstreamResponse | undefined> {
  let up: UpstreamResponse
  try {
    up = await ctx.openUpstream()
  } catch (err) {
    await ledger.markNotCharged(id, err instanceof UpstreamError ? `upstream_${err.kind}` : 'upstream_error')
    if (err instanceof UpstreamError) { ctx.sendUpstreamError(err); return undefined }
    throw err
  }
  if (up.statusCode >= 400) {
    await ledger.markNotCharged(id, `upstream_status_${up.statusCode}`)
    await ctx.sendUpstream(up)
    return undefined
  }
  return up
}
