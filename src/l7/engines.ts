// The L7 decisions the data path asks for, in one place: each one is the pure engine in ./engines
// (and the L4-only authorization rule for TCP flows in ./l4-authz, which the authz engine lacks).
export { matchRoute } from './engines/route-match.js'
export { pickDestination } from './engines/weighted-pick.js'
export { changesRequest, changesResponse, mutateRequest, mutateResponseHeaders } from './engines/request-mutation.js'
export { decideRetry, planTimeouts, retryPolicyFor } from './engines/retry-policy.js'
export { decideFault } from './engines/fault.js'
export { decideMirrors } from './engines/mirror.js'
export { applicablePolicies, authorizeRequestVerdict } from './engines/l7-authz.js'
export { authorizeConnection } from './l4-authz.js'
export type { AttemptOutcome } from './engines/retry-policy.js'
export type { WeightedPick } from './engines/weighted-pick.js'
export type { RequestHead, RouteDecision } from './engines/route-match.js'
export type { L7AuthzVerdict, L7RequestFacts } from './engines/l7-authz.js'
