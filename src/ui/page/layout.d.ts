// Types of layout.js (plain JavaScript the page loads as is; tests import it through these).
import type { Graph, GraphEdge, GraphNode } from '../graph.js'

export type TextStyle = 'name' | 'kind' | 'label'
export interface Point {
  x: number
  y: number
}
export interface Box {
  x: number
  y: number
  w: number
  h: number
}

export interface LaidOutNode extends Box {
  readonly id: string
  readonly idle: boolean
}

export interface LaidOutEdge {
  readonly id: string
  readonly edge: GraphEdge
  readonly segments: readonly (readonly [Point, Point, Point, Point])[]
  /** The SVG path. */
  readonly d: string
  /** Points along the path. */
  readonly points: readonly Point[]
  readonly label: Box & { readonly lines: readonly string[]; readonly anchor: Point }
}

export interface GraphLayout {
  readonly nodes: readonly LaidOutNode[]
  readonly edges: readonly LaidOutEdge[]
  /** Where the idle nodes start, when there are some. */
  readonly idleTop: number | undefined
  readonly width: number
  readonly height: number
}

export const NODE_H: number
export const PAD_X: number
export const LABEL_LINE: number
export const LABEL_PAD: number
export const LOCK_W: number
export const LABEL_GAP: number
export const MARGIN: number
export function estimateText(text: string, style: TextStyle): number
export function shortName(id: string): string
export function kindText(n: Pick<GraphNode, 'kind' | 'waypoint'>): string
export function fmtRate(r: number): string
export function labelLines(e: Pick<GraphEdge, 'rate' | 'protocol' | 'health' | 'denied' | 'deniedRecent' | 'errorRate'>): string[]
export function boxesOverlap(a: Box, b: Box, margin?: number): boolean
export function samplePath(segments: readonly (readonly [Point, Point, Point, Point])[], n?: number): Point[]
export function distanceToPolyline(p: Point, pts: readonly Point[]): number
export function distanceBoxToPolyline(box: Box, pts: readonly Point[]): number
export function polylineHitsBox(pts: readonly Point[], box: Box): boolean
export function layoutGraph(
  graph: Pick<Graph, 'nodes' | 'edges'>,
  options?: { measure?: (text: string, style: TextStyle) => number },
): GraphLayout
