/** Drops what was derived for one node once every node check has seen it, so memory stays per-node. */
import { forgetExpected } from './expected/index.js';
import { forgetIndex } from './host-index.js';
import type { FlannelNode, Model } from './model.js';

export function releaseNode(model: Model, node: FlannelNode): void {
  forgetExpected(model, node);
  if (node.host) forgetIndex(node.host);
}
