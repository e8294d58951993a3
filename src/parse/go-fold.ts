/** Go's encoding/json folds keys with Unicode simple folding; these two are the non-ASCII cases that hit ASCII letters. */
export function goFold(s: string): string {
  return s
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .toLowerCase();
}
