// Optional fields under exactOptionalPropertyTypes: a field holding undefined is not an absent one,
// so a value that may be missing is put in only when it is there.

/** The fields of `o` that hold a value (neither undefined nor null), in `o`'s order. */
export function presentFields<T extends object>(o: T): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as { [K in keyof T]?: NonNullable<T[K]> }
}
