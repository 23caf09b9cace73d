// The analyzer contract: a pure function from the config (through the shared context) to findings.
// A finding names its message type and template arguments and the object and field it is about;
// index.ts turns it into a located AnalysisMessage (file, line), so analyzers never deal with files.
import type { ConfigObject, Kind } from '../../resources/model.js'
import type { AnalysisContext } from '../context.js'
import type { Level, MessageTypeName } from '../messages.js'

export interface Finding {
  readonly type: MessageTypeName
  readonly args: readonly (string | number)[]
  readonly object: ConfigObject
  /** The field, e.g. `spec.http[0].route[0].destination.host`; '' or absent for the whole object. */
  readonly path?: string
  /** A fix specific to this finding; default: the message type's. */
  readonly fix?: string
  /** Appended to the message in parentheses: context the template has no room for. */
  readonly note?: string
  /** Only where the catalogue documents a lower level for a case (see referenced-hosts.ts). */
  readonly level?: Level
}

export interface Analyzer {
  /** kebab-case, as `istioctl analyze --list-analyzers` names them. */
  readonly name: string
  readonly analyze: (ctx: AnalysisContext) => Finding[]
  /**
   * A promise that lets an analysis redo only what changed (../memo.ts): what it finds about an
   * object of this kind depends on that object and on other kinds only, never on other objects of
   * the kind; and what it finds about anything else does not read this kind at all.
   */
  readonly perObject?: Kind
}
