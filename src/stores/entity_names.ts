/** Accents on letters of scripts that write them as optional diacritics (after NFD). */
const ACCENTED = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{M}+/gu;
const NON_WORD = /[^\p{L}\p{N}\p{M}]+/gu;

/**
 * The form in which entity names and aliases are compared: NFKC, lower case, accents of Latin,
 * Greek and Cyrillic letters removed ("José" → "jose"; the vowel signs and marks of other scripts
 * are kept), every run of characters that are not letters, digits or marks turned into one space,
 * trimmed. `"New-York  City!"` → `"new york city"`.
 */
export function normalizeEntityName(text: string): string {
  return String(text ?? "")
    .normalize("NFKC")
    .toLowerCase()
    .normalize("NFD")
    .replace(ACCENTED, "$1")
    .normalize("NFC")
    .replace(NON_WORD, " ")
    .trim();
}
