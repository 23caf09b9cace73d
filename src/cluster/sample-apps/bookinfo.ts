// Bookinfo, answered the way Istio's sample services answer (JSON bodies of the same shape), so that
// the mesh's behaviour is what users see in Istio's docs:
//   productpage → details (/details/0) and reviews (/reviews/0); its JSON carries both answers;
//   reviews v1 → no ratings; v2 → ratings as black stars; v3 → red stars (v2 and v3 call ratings);
//   ratings → fixed ratings; details → the book.
// Failures of an upstream are shown in the answer (as bookinfo's "Sorry, product reviews are
// currently unavailable") rather than failing the whole page, which is what makes a denial visible.
import type { IncomingMessage } from 'node:http'
import type { AppReply, SampleApp } from './sample-app.js'
import { callUpstream } from './sample-app.js'

const BOOK = {
  id: 0,
  title: 'The Comedy of Errors',
  descriptionHtml: "Wikipedia Summary: The Comedy of Errors is one of William Shakespeare's early plays.",
}

const notFound = (req: IncomingMessage): AppReply => ({ status: 404, body: { error: `no route for ${req.method} ${req.url}` } })
const health = (req: IncomingMessage): AppReply | undefined =>
  req.url === '/health' ? { status: 200, body: { status: 'healthy' } } : undefined
const idFrom = (url: string, prefix: string): number | undefined => {
  const m = new RegExp(`^/${prefix}/(\\d+)(?:\\?.*)?$`).exec(url)
  return m === null ? undefined : Number(m[1])
}

export const details: SampleApp = {
  defaultPort: 9080,
  handle: (req, ctx) => {
    const id = idFrom(req.url ?? '', 'details')
    if (id === undefined) return health(req) ?? notFound(req)
    return {
      status: 200,
      body: {
        id,
        author: 'William Shakespeare',
        year: 1595,
        type: 'paperback',
        pages: 200,
        publisher: 'PublisherA',
        language: 'English',
        'ISBN-10': '1234567890',
        'ISBN-13': '123-1234567890',
        pod: ctx.pod.name,
        version: ctx.version,
      },
    }
  },
}

export const ratings: SampleApp = {
  defaultPort: 9080,
  handle: (req, ctx) => {
    const id = idFrom(req.url ?? '', 'ratings')
    if (id === undefined) return health(req) ?? notFound(req)
    return { status: 200, body: { id, ratings: { Reviewer1: 5, Reviewer2: 4 }, pod: ctx.pod.name } }
  },
}

export function reviews(version: 'v1' | 'v2' | 'v3'): SampleApp {
  const color = version === 'v2' ? 'black' : 'red'
  return {
    defaultPort: 9080,
    handle: async (req, ctx) => {
      const id = idFrom(req.url ?? '', 'reviews')
      if (id === undefined) return health(req) ?? notFound(req)
      const texts = [
        { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
        {
          reviewer: 'Reviewer2',
          text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.',
        },
      ]
      let list: Record<string, unknown>[] = texts
      if (version !== 'v1') {
        const r = await callUpstream(ctx, req, `http://ratings:9080/ratings/${id}`)
        const stars = r.ok ? (r.body as { ratings?: Record<string, number> }).ratings : undefined
        list = texts.map((t) => ({
          ...t,
          rating:
            stars?.[t.reviewer] === undefined
              ? { error: `Ratings service is currently unavailable (${r.ok ? 'no rating' : r.error})` }
              : { stars: stars[t.reviewer], color },
        }))
      }
      return { status: 200, body: { id, podname: ctx.pod.name, clustername: 'null', version, reviews: list } }
    },
  }
}

export const productpage: SampleApp = {
  defaultPort: 9080,
  handle: async (req, ctx) => {
    const url = req.url ?? '/'
    const m = /^\/(?:productpage|api\/v1\/products\/(\d+))?(?:\?.*)?$/.exec(url)
    if (m === null) return health(req) ?? notFound(req)
    const id = m[1] === undefined ? 0 : Number(m[1])
    if (url === '/' || url.startsWith('/?'))
      return { status: 200, body: { pod: ctx.pod.name, links: ['/productpage', '/api/v1/products/0'] } }
    const [d, r] = await Promise.all([
      callUpstream(ctx, req, `http://details:9080/details/${id}`),
      callUpstream(ctx, req, `http://reviews:9080/reviews/${id}`),
    ])
    return {
      status: 200,
      body: {
        pod: ctx.pod.name,
        product: { ...BOOK, id },
        details: d.ok ? d.body : { error: `Sorry, product details are currently unavailable for this book (${d.error})` },
        reviews: r.ok ? r.body : { error: `Sorry, product reviews are currently unavailable for this book (${r.error})` },
      },
    }
  },
}
