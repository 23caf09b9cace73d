// IST0101 for Gateway API references: an HTTPRoute's parentRefs (a Gateway, or a Service for a mesh
// route) and backendRefs (Services, also inside RequestMirror filters). Unlike hosts, these are
// object references the route's own author wrote next to each other, so a missing one is an Error
// even when the input is partial (Istio's route status says ResolvedRefs=False / Accepted=False).
// Kinds we do not model (ServiceEntry, other groups) are not checked.
import type { HTTPRoute } from '../../resources/model.js'
import type { AnalysisContext } from '../context.js'
import type { Analyzer, Finding } from './analyzer.js'

const GATEWAY_GROUP = 'gateway.networking.k8s.io'
const isCore = (group: string) => group === '' || group === 'core'

export const routeReferences: Analyzer = {
  name: 'route-references',
  analyze(ctx) {
    const out: Finding[] = []
    for (const route of ctx.snapshot.HTTPRoute) {
      const ns = route.metadata.namespace
      route.spec.parentRefs.forEach((p, i) => {
        const target = p.namespace ?? ns
        const path = `spec.parentRefs[${i}]`
        if (p.kind === 'Gateway' && p.group === GATEWAY_GROUP && ctx.gateway(target, p.name) === undefined) {
          out.push(
            missing(
              route,
              'parent Gateway',
              `${target}/${p.name}`,
              path,
              `create Gateway ${target}/${p.name}, or correct parentRefs[${i}].name`,
            ),
          )
        } else if (p.kind === 'Service' && isCore(p.group)) {
          checkService(ctx, route, target, p.name, 'parent Service', path, out)
        }
      })
      route.spec.rules.forEach((rule, i) => {
        rule.backendRefs.forEach((b, j) => {
          if (b.kind === 'Service' && isCore(b.group))
            checkService(ctx, route, b.namespace ?? ns, b.name, 'backend Service', `spec.rules[${i}].backendRefs[${j}]`, out)
        })
        rule.filters.forEach((f, j) => {
          if (f.type !== 'RequestMirror') return
          const b = f.requestMirror.backendRef
          if (b.kind === 'Service' && isCore(b.group)) {
            checkService(
              ctx,
              route,
              b.namespace ?? ns,
              b.name,
              'mirror backend Service',
              `spec.rules[${i}].filters[${j}].requestMirror.backendRef`,
              out,
            )
          }
        })
      })
    }
    return out
  },
}

function checkService(
  ctx: AnalysisContext,
  route: HTTPRoute,
  ns: string,
  name: string,
  reftype: string,
  path: string,
  out: Finding[],
): void {
  if (ctx.service(ns, name) !== undefined) return
  out.push(missing(route, reftype, `${ns}/${name}`, `${path}.name`, `create Service ${ns}/${name}, or correct the name`))
}

function missing(route: HTTPRoute, reftype: string, value: string, path: string, fix: string): Finding {
  return { type: 'ReferencedResourceNotFound', args: [reftype, value], object: route, path, fix }
}
