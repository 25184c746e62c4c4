/**
 * `vend apply -f <file|->`: create or update offers from one or many YAML (or JSON) documents.
 * Every document is validated first; if any is invalid nothing is written.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { LineCounter, parseAllDocuments, type Document } from 'yaml'
import { BaseError, InvalidInputError } from '../../errors/base.ts'
import { parseOfferDocuments, type OfferProblem } from '../../offer/parseOffers.ts'
import { formatPath, OfferInvalidError, reservedPathReason, resolveOffer } from '../../offer/resolveOffer.ts'
import type { ServiceOffer } from '../../offer/schema.ts'
import { writeFileAtomic } from '../../state/atomicWrite.ts'
import { offerFile } from '../../state/home.ts'
import { readOfferFile } from '../../state/offerStore.ts'
import type { CliContext } from '../context.ts'
import { announce, type Written } from '../sell/announce.ts'

type ApplyFlags = { filename?: string; wait: boolean }

export function register(program: Command, ctx: CliContext): void {
  program.command('apply')
    .description('Create or update offers from YAML documents (one offer per document).')
    .option('-f, --filename <file>', 'file with one or many ServiceOffer documents, or - for stdin')
    .option('--no-wait', 'do not wait for the running stack to pick the offers up')
    .addHelpText('after', `
Examples:
  vend apply -f offers.yaml
  cat weather.yaml | vend apply -f -

Every document is validated before anything is written: one invalid document means nothing is applied.`)
    .action(async (flags: ApplyFlags) => { await apply(ctx, flags) })
}

async function apply(ctx: CliContext, flags: ApplyFlags): Promise<void> {
  if (flags.filename === undefined) throw new InvalidInputError('-f is required: the file to apply.', { hint: 'Pass -f offers.yaml, or -f - to read stdin.' })
  const label = flags.filename === '-' ? '<stdin>' : flags.filename
  const text = flags.filename === '-' ? await readStdin() : readInput(flags.filename)
  const { offers, docs, problems } = validate(text, label)
  if (problems.length) {
    const p = problems[0]!
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : ''
    throw new InvalidInputError(`${p.file}${p.line ? `:${p.line}` : ''}: ${p.message.replace(/\.$/, '')}${more}.`, {
      hint: 'Nothing was applied; fix the documents and run `vend apply` again.',
    })
  }
  const paths = ctx.paths()
  const written: Written[] = offers.map((offer, i) => {
    const { name, namespace } = offer.metadata
    const path = offerFile(paths, namespace, name)
    const created = !existsSync(path)
    writeFileAtomic(path, docs[i]!.toString({ lineWidth: 0 }), 0o600)
    return { key: `${namespace}/${name}`, namespace, name, created, generation: readOfferFile(paths, namespace, name).generation }
  })
  await announce(ctx, written, flags.wait)
}

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new InvalidInputError(`Cannot read -f ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, { hint: 'Check the path.' })
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Schema and resolution of every document, duplicates and reserved paths; problems carry file and line. */
export function validate(text: string, file: string): { offers: ServiceOffer[]; docs: Document[]; problems: OfferProblem[] } {
  const problems: OfferProblem[] = []
  const offers: ServiceOffer[] = []
  const counter = new LineCounter()
  const docs = parseAllDocuments(text, { lineCounter: counter })
  const raw = (Array.isArray(docs) ? docs : [docs]).filter((d) => d.errors.length > 0 || d.toJS() != null)
  const parsed = parseOfferDocuments(text, file)
  const seen = new Set<string>()
  parsed.forEach((d, i) => {
    if (!d.ok) return problems.push(d.problem)
    const doc = raw[i]!
    const key = `${d.offer.metadata.namespace}/${d.offer.metadata.name}`
    if (seen.has(key)) return problems.push({ file, line: d.line, message: `offer ${key} appears twice` })
    seen.add(key)
    try {
      const r = resolveOffer(d.offer)
      const reserved = reservedPathReason(r.path)
      if (reserved) return problems.push({ file, line: lineIn(doc, counter, ['spec', 'path']) ?? d.line, message: `spec.path: ${reserved}` })
      offers.push(d.offer)
    } catch (err) {
      if (!(err instanceof OfferInvalidError)) throw err
      for (const p of err.problems) problems.push({ file, line: lineIn(doc, counter, p.path) ?? d.line, message: `${formatPath(p.path)}: ${p.message}` })
    }
  })
  if (problems.length === 0 && raw.length !== offers.length) throw new BaseError('Internal error: documents and offers do not line up.')
  return { offers, docs: raw, problems }
}

function lineIn(doc: Document, counter: LineCounter, path: readonly (string | number)[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined
    if (node?.range) return counter.linePos(node.range[0]).line
  }
  return undefined
}
