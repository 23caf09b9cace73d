// Validated objects leave the parser deeply frozen, and without keys whose value is undefined (the
// decoders build optional fields from possibly-absent values; dropping them here keeps `'x' in o`
// and JSON dumps honest).

export function freezeObject<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value
  if (Array.isArray(value)) {
    for (const item of value) freezeObject(item)
    return Object.freeze(value)
  }
  const obj = value as Record<string, unknown>
  for (const key of Object.keys(obj)) {
    if (obj[key] === undefined) delete obj[key]
    else freezeObject(obj[key])
  }
  return Object.freeze(value)
}
