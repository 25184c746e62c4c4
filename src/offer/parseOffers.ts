/**
 * YAML/JSON text -> validated ServiceOffers. Every problem is reported with the file, the line and the
 * field, so an operator can fix a hand-edited file without guessing.
 */
import { LineCounter, parseAllDocuments, type Document } from 'yaml'
import { ServiceOffer, type ServiceOfferInput } from './schema.ts'
import { formatPath, type FieldProblem } from './resolveOffer.ts'

export type OfferProblem = { file: string; line: number | undefined; message: string }

export type ParsedDocument =
  | { ok: true; offer: ServiceOffer; line: number }
  | { ok: false; problem: OfferProblem }

function lineOf(doc: Document, counter: LineCounter, path: readonly (string | number | symbol)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined
    if (node && node.range) return counter.linePos(node.range[0]).line
  }
  return undefined
}

/** Parse one or many YAML documents. Each document is validated on its own. */
export function parseOfferDocuments(text: string, file: string): ParsedDocument[] {
  const counter = new LineCounter()
  const docs = parseAllDocuments(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true })
  const list = Array.isArray(docs) ? docs : [docs]
  const out: ParsedDocument[] = []
  for (const doc of list) {
    if (doc.errors.length) {
      const e = doc.errors[0]!
      out.push({ ok: false, problem: { file, line: counter.linePos(e.pos[0]).line, message: `invalid YAML: ${e.message.split('\n')[0]}` } })
      continue
    }
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: 50 })
    } catch (err) {
      // unresolved aliases, alias bombs: the YAML parses but cannot become data
      const line = doc.contents?.range ? counter.linePos(doc.contents.range[0]).line : 1
      out.push({ ok: false, problem: { file, line, message: `invalid YAML: ${(err as Error).message.split('\n')[0]}` } })
      continue
    }
    if (value === null || value === undefined) continue // empty document (e.g. trailing ---)
    const startLine = doc.contents?.range ? counter.linePos(doc.contents.range[0]).line : 1
    const res = ServiceOffer.safeParse(value)
    if (!res.success) {
      const issue = res.error.issues[0]!
      out.push({ ok: false, problem: { file, line: lineOf(doc, counter, issue.path) ?? startLine, message: `${formatPath(issue.path)}: ${issue.message}` } })
      continue
    }
    out.push({ ok: true, offer: res.data, line: startLine })
  }
  if (out.length === 0) out.push({ ok: false, problem: { file, line: 1, message: 'the file holds no ServiceOffer document' } })
  return out
}

/** Locate a resolution problem (from resolveOffer) in the file text. */
export function locateProblem(text: string, file: string, p: FieldProblem): OfferProblem {
  const counter = new LineCounter()
  const docs = parseAllDocuments(text, { lineCounter: counter })
  const doc = (Array.isArray(docs) ? docs[0] : docs) as Document | undefined
  return { file, line: doc ? lineOf(doc, counter, p.path) : undefined, message: `${formatPath(p.path)}: ${p.message}` }
}

export function formatProblem(p: OfferProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`
}

export type { ServiceOfferInput }
