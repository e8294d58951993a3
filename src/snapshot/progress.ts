/**
 * What live collection reports while it builds a snapshot, node by node. It lives beside the
 * snapshot types so that renderers show it without importing the collectors.
 */
export type NodeState = 'queued' | 'running' | 'ok' | 'failed' | 'timeout';

export type ProgressEvent =
  | {
      readonly type: 'phase';
      readonly phase: 'connect' | 'cluster' | 'nodes' | 'cleanup' | 'done';
      readonly message: string;
    }
  | { readonly type: 'nodes'; readonly nodes: readonly string[] }
  | {
      readonly type: 'node';
      readonly node: string;
      readonly state: NodeState;
      /** How the node is reached (flannel pod, helper pod). */
      readonly via?: string;
      readonly commands?: number;
      readonly detail?: string;
      readonly durationMs?: number;
    }
  | { readonly type: 'warning'; readonly message: string };
