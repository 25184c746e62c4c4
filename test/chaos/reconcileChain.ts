/**
 * The ledger/chain reconciliation the chaos suite ends with: every EIP-3009 authorisation used on chain towards
 * payTo (AuthorizationUsed + Transfer logs of the USDC contract) against the payment ledger (SQLite), and every
 * request a client saw served (2xx) against both.
 *   lost           : an on-chain transfer to payTo with no settled ledger row (money the seller cannot account for)
 *   double-charged : one authorisation paid twice, or more moved to payTo than the settled rows say
 *   served unpaid  : a 2xx whose authorisation is neither used on chain nor still settleable in the ledger
 */
import Database from 'better-sqlite3'
import { keccak256, toHex, type Hex } from 'viem'

const TRANSFER = keccak256(toHex('Transfer(address,address,uint256)'))
const AUTH_USED = keccak256(toHex('AuthorizationUsed(address,bytes32)'))

type Log = { topics: Hex[]; data: Hex; transactionHash: Hex; logIndex: Hex }
type Row = { nonce: string; payer: string; status: string; tx_hash: string | null; amount: string; valid_before: number }

export type ReconciliationReport = {
  servedRequests: number
  onChainTransfers: number
  onChainAmount: bigint
  settledRows: number
  settledAmount: bigint
  pendingRows: number
  lost: string[]
  doubleCharged: string[]
  servedUnpaid: string[]
  /** Informational: used on chain, but the client never saw a 2xx (its connection died with the daemon). */
  paidNotServed: number
}

async function rpc<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const body = await res.json() as { result?: T; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}

const topicAddress = (a: string) => `0x${a.slice(2).toLowerCase().padStart(64, '0')}` as Hex

export async function reconcileLedgerWithChain(o: {
  /** Every ledger paying to payTo (one per seller stack). */
  dbFiles: string[]; rpcUrl: string; usdc: string; payTo: string; payer: string
  /** Nonces of the requests the client saw answered 2xx. */
  servedNonces: string[]
  nowSeconds?: number
}): Promise<ReconciliationReport> {
  const logs = await rpc<Log[]>(o.rpcUrl, 'eth_getLogs', [{ address: o.usdc, fromBlock: '0x0', toBlock: 'latest', topics: [[TRANSFER, AUTH_USED]] }])
  const transfers = logs.filter((l) => l.topics[0] === TRANSFER && l.topics[2]?.toLowerCase() === topicAddress(o.payTo))
  const used = logs.filter((l) => l.topics[0] === AUTH_USED && l.topics[1]?.toLowerCase() === topicAddress(o.payer))
  const usedNonces = used.map((l) => l.topics[2]!.toLowerCase())

  const rows: Row[] = []
  for (const file of o.dbFiles) {
    const db = new Database(file, { readonly: true, fileMustExist: true })
    try {
      rows.push(...db.prepare("SELECT nonce, payer, status, tx_hash, amount, valid_before FROM payments WHERE direction = 'earned'").all() as Row[])
    } finally { db.close() }
  }
  const byNonce = new Map<string, Row[]>()
  for (const r of rows) byNonce.set(r.nonce.toLowerCase(), [...(byNonce.get(r.nonce.toLowerCase()) ?? []), r])
  const settled = rows.filter((r) => r.status === 'settled')
  const now = o.nowSeconds ?? Math.floor(Date.now() / 1000)

  const lost: string[] = []
  const usedTx = new Map<string, string>()
  for (const l of used) {
    const nonce = l.topics[2]!.toLowerCase()
    usedTx.set(nonce, l.transactionHash.toLowerCase())
    const row = byNonce.get(nonce)?.find((r) => r.status === 'settled')
    if (!row) lost.push(`${nonce}: used on chain in ${l.transactionHash}, ledger says ${byNonce.get(nonce)?.map((r) => r.status).join(',') ?? 'nothing'}`)
    else if (row.tx_hash?.toLowerCase() !== l.transactionHash.toLowerCase()) lost.push(`${nonce}: settled row names ${row.tx_hash}, chain used it in ${l.transactionHash}`)
  }
  const onChainAmount = transfers.reduce((s, l) => s + BigInt(l.data), 0n)
  const settledAmount = settled.reduce((s, r) => s + BigInt(r.amount), 0n)

  const doubleCharged: string[] = []
  const seen = new Set<string>()
  for (const n of usedNonces) { if (seen.has(n)) doubleCharged.push(`${n}: used twice on chain`); seen.add(n) }
  for (const [n, rs] of byNonce) if (rs.filter((r) => r.status === 'settled').length > 1) doubleCharged.push(`${n}: ${rs.length} settled rows`)
  for (const r of settled) if (!usedTx.has(r.nonce.toLowerCase())) doubleCharged.push(`${r.nonce}: settled in the ledger but not used on chain`)
  if (transfers.length !== used.length) doubleCharged.push(`${transfers.length} transfers to payTo for ${used.length} authorisations`)
  if (onChainAmount !== settledAmount) doubleCharged.push(`payTo received ${onChainAmount}, settled rows total ${settledAmount}`)

  const servedUnpaid: string[] = []
  const servedSet = new Set(o.servedNonces.map((n) => n.toLowerCase()))
  for (const raw of o.servedNonces) {
    const n = raw.toLowerCase()
    if (usedTx.has(n)) continue
    const r = byNonce.get(n)?.[0]
    const settleable = r && (r.status === 'verified' || r.status === 'settling') && r.valid_before > now
    if (!settleable) servedUnpaid.push(`${n}: served, ledger ${r?.status ?? 'has no row'}, not used on chain`)
  }
  return {
    servedRequests: o.servedNonces.length, onChainTransfers: transfers.length, onChainAmount, settledRows: settled.length, settledAmount,
    pendingRows: rows.filter((r) => r.status === 'verified' || r.status === 'settling').length, lost, doubleCharged, servedUnpaid,
    paidNotServed: usedNonces.filter((n) => !servedSet.has(n)).length,
  }
}

export function formatReport(title: string, r: ReconciliationReport, extra: Record<string, unknown> = {}): string {
  const lines = [
    `== ledger/chain reconciliation: ${title}`,
    ...Object.entries(extra).map(([k, v]) => `   ${k}: ${String(v)}`),
    `   served (2xx) requests: ${r.servedRequests}`,
    `   on-chain transfers to payTo: ${r.onChainTransfers} (${r.onChainAmount} atomic)`,
    `   settled ledger rows: ${r.settledRows} (${r.settledAmount} atomic), still settling: ${r.pendingRows}`,
    `   paid on chain but no 2xx seen by the client (its connection was cut): ${r.paidNotServed}`,
    `   lost: ${r.lost.length}, double-charged: ${r.doubleCharged.length}, served unpaid: ${r.servedUnpaid.length}`,
    ...[...r.lost, ...r.doubleCharged, ...r.servedUnpaid].slice(0, 20).map((s) => `     ${s}`),
  ]
  return lines.join('\n')
}
