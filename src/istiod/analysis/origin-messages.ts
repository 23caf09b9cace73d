// Findings made before analysis, re-issued in the catalogue's terms: the parser's (every config
// error with file, document, path and line) and, when given, translation's. The original code is
// kept as `origin`. Translation findings that an analyzer also makes (it sees more context and
// gives a better fix) are dropped here, so one problem is reported once.
import { ConfigMessageCode, type ConfigMessage, type Severity } from '../resources/messages.js'
import { TranslationCode, type TranslationMessage } from '../translate/index.js'
import { MessageTypes, type AnalysisMessage, type Level, type MessageTypeName, renderTemplate } from './messages.js'

/** Codes added to the parser later fall back to ConfigInputFinding at the parser's severity. */
const PARSER_TYPES: Readonly<Partial<Record<string, MessageTypeName>>> = {
  [ConfigMessageCode.unreadable]: 'UnreadableFile',
  [ConfigMessageCode.yamlSyntax]: 'SchemaValidationError',
  [ConfigMessageCode.schema]: 'SchemaValidationError',
  [ConfigMessageCode.missingField]: 'SchemaValidationError',
  [ConfigMessageCode.missingName]: 'SchemaValidationError',
  [ConfigMessageCode.notAnObject]: 'SchemaValidationError',
  [ConfigMessageCode.badApiVersion]: 'SchemaValidationError',
  [ConfigMessageCode.unknownField]: 'SchemaWarning',
  [ConfigMessageCode.unknownKind]: 'UnknownKind',
  [ConfigMessageCode.duplicateObject]: 'DuplicateObject',
}

/** Translation codes whose finding an analyzer makes too (see analyzers/). */
const COVERED: ReadonlySet<string> = new Set([
  TranslationCode.authorizationConversion,
  TranslationCode.selectorPolicyHttpAttributes,
  TranslationCode.policyTargetNotFound,
  TranslationCode.peerAuthenticationDisable,
  TranslationCode.waypointNotFound,
  TranslationCode.waypointForMismatch,
  TranslationCode.virtualServiceHostNotFqdn,
  TranslationCode.unknownDestination,
  TranslationCode.unknownSubset,
  TranslationCode.routeParentNotFound,
])

export function fromConfigMessage(m: ConfigMessage): AnalysisMessage {
  const name = PARSER_TYPES[m.code] ?? 'ConfigInputFinding'
  const type = MessageTypes[name]
  const detail = m.path === '' ? m.reason : `${m.path}: ${m.reason}`
  return {
    code: type.code,
    name,
    level: name === 'ConfigInputFinding' ? levelOf(m.severity) : type.level,
    message: renderTemplate(type.template, [detail]),
    object: m.object === undefined ? undefined : displayKey(m.object),
    file: m.file,
    line: m.line,
    path: m.path,
    fix: m.hint === '' ? type.fix : m.hint,
    origin: m.code,
  }
}

export function fromTranslationMessage(m: TranslationMessage): AnalysisMessage | undefined {
  if (COVERED.has(m.code)) return undefined
  const name: MessageTypeName =
    m.code === TranslationCode.virtualServiceConflict ? 'ConflictingMeshGatewayVirtualServiceHosts' : 'TranslationFinding'
  const type = MessageTypes[name]
  const level: Level = name === 'TranslationFinding' ? levelOf(m.severity) : type.level
  return {
    code: type.code,
    name,
    level,
    message: renderTemplate(type.template, [m.reason]),
    object: displayKey(m.object),
    file: m.source?.file,
    line: m.source?.line,
    path: m.path,
    fix: m.hint === '' ? type.fix : m.hint,
    origin: m.code,
  }
}

function levelOf(severity: Severity): Level {
  return severity === 'error' ? 'Error' : severity === 'info' ? 'Info' : 'Warning'
}

/** `Kind/ns/name` (the model's objectKey) → `Kind ns/name` (istioctl's form). */
export function displayKey(key: string): string {
  const slash = key.indexOf('/')
  return slash < 0 ? key : `${key.slice(0, slash)} ${key.slice(slash + 1)}`
}
