// Image → built-in sample app. The cluster runs no containers: each pod's container image picks an
// app of this package that behaves like the image (bookinfo, httpbin, curl/sleep). Matching is on
// the repository's last path segment without tag or digest, so `docker.io/istio/examples-bookinfo-
// reviews-v2:1.20.3` and `istio/examples-bookinfo-reviews-v2` are the same image.
import { AmbientError } from '../../errors.js'
import { details, productpage, ratings, reviews } from './bookinfo.js'
import { httpbin } from './httpbin.js'
import type { SampleApp } from './sample-app.js'

export const SampleAppErrorCode = {
  unknownImage: 'CLUSTER_UNKNOWN_IMAGE',
} as const

interface Entry {
  readonly names: readonly string[]
  readonly app: SampleApp
  readonly version: string
}

const IDLE: SampleApp = { defaultPort: undefined }

const IMAGES: readonly Entry[] = [
  { names: ['examples-bookinfo-productpage-v1'], app: productpage, version: 'v1' },
  { names: ['examples-bookinfo-details-v1', 'examples-bookinfo-details-v2'], app: details, version: 'v1' },
  { names: ['examples-bookinfo-reviews-v1'], app: reviews('v1'), version: 'v1' },
  { names: ['examples-bookinfo-reviews-v2'], app: reviews('v2'), version: 'v2' },
  { names: ['examples-bookinfo-reviews-v3'], app: reviews('v3'), version: 'v3' },
  { names: ['examples-bookinfo-ratings-v1', 'examples-bookinfo-ratings-v2'], app: ratings, version: 'v1' },
  { names: ['httpbin', 'go-httpbin'], app: httpbin, version: 'v1' },
  { names: ['curl', 'sleep', 'netshoot', 'busybox'], app: IDLE, version: 'v1' },
]

/** `registry/org/name:tag@sha256:…` → `name`. */
export function imageName(image: string): string {
  const noDigest = image.split('@')[0]!
  const last = noDigest.split('/').at(-1)!
  return last.replace(/:[^:]*$/, '')
}

export function knownImages(): string[] {
  return IMAGES.flatMap((e) => e.names)
}

export function appForImage(image: string): { app: SampleApp; version: string } | undefined {
  const name = imageName(image)
  const e = IMAGES.find((entry) => entry.names.includes(name))
  return e === undefined ? undefined : { app: e.app, version: e.version }
}

/** Like appForImage, or the error listing every known image. */
export function requireAppForImage(image: string, where: string): { app: SampleApp; version: string } {
  const found = appForImage(image)
  if (found !== undefined) return found
  throw new AmbientError(
    SampleAppErrorCode.unknownImage,
    `${where}: image "${image}" has no built-in sample app (this cluster runs no containers). Known images (any registry and tag): ${knownImages().join(', ')}`,
    { side: 'config', details: { image, known: knownImages() } },
  )
}
