/**
 * JSON.parse's message, without the piece of the input V8 quotes in it (`Unexpected token 's',
 * "{"PSK": s3cr"... is not valid JSON`): that piece is wherever the parse failed, which in a
 * config with an unquoted secret is the secret.
 */
export function jsonErrorMessage(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const token = /^Unexpected token '([\s\S]*?)', [\s\S]* is not valid JSON$/.exec(message);
  if (token) {
    const c = token[1] ?? '';
    return /^[^A-Za-z0-9]$/.test(c) ? `Unexpected character '${c}'` : 'Unexpected unquoted word';
  }
  // The other messages give a position, never input text; keep only the first line to be sure.
  return message.split('\n')[0]!.replace(/"[^"]*"/g, '"…"');
}
