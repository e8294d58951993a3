/**
 * Output of node commands that have no format of their own to redact by (ip, bridge, iptables-save,
 * sysctl, subnet.env) and every command's stderr: none of them prints secrets, so this only
 * removes values after secret-ish keys (`key: v`, `key=v`, a quoted `key "v"`), in case a node's
 * tool or a wrapper echoes a config.
 */
import { redactFreeText } from './free-text.js';

export function redactCommandOutput(text: string): string {
  return redactFreeText(text, { spaceSeparated: false });
}
