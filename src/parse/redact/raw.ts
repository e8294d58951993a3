/** Which redactor a node command's output goes through, by command id (node-commands.ts). */
import { redactCniListing } from './cni.js';
import { redactCommandOutput } from './command-output.js';
import { redactWgDump } from './wireguard.js';
import { redactXfrmStateText } from './xfrm.js';

export function redactRawOutput(commandId: string, text: string): string {
  const id = commandId.split(':')[0];
  if (id === 'xfrm.state') return redactCommandOutput(redactXfrmStateText(text));
  if (id === 'wireguard') return redactCommandOutput(redactWgDump(text));
  if (id === 'cni') return redactCniListing(text, redactCommandOutput);
  return redactCommandOutput(text);
}

/** For messages about a command's output (parse issues, fallback reasons): its redactor, and the xfrm one for good measure. */
export function redactMessage(commandId: string, text: string): string {
  return redactXfrmStateText(redactRawOutput(commandId, text));
}
