/** The same module without comments and leading spaces (scripts/compact-js.mjs). */
export function compactGeneratedJs(source: string): string
