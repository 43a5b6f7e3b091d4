import { isIPv4, isIPv6 } from "node:net";

/** A span of text to replace by `[label]`, or to keep as is (`null`) because it is a look-alike. */
export interface Span {
  start: number;
  end: number;
  label: string | null;
}

/** Finds the spans of one kind of sensitive data in a text. */
export type SpanFinder = (text: string) => Span[];

interface PatternRule {
  /** A global pattern (with the `d` flag when `group` is set). */
  pattern: RegExp;
  /** Capture group to redact instead of the whole match (a key's value, not its name). */
  group?: number;
  /** Rejects look-alikes: failed checksums, dates, versions. */
  accept?: (value: string, text: string, start: number) => boolean;
}

/** Spans of every accepted match of the rules. */
export function patternFinder(label: string | null, rules: PatternRule[]): SpanFinder {
  return (text) => {
    const spans: Span[] = [];
    for (const { pattern, group, accept } of rules) {
      for (const match of text.matchAll(pattern)) {
        const value = group === undefined ? match[0] : match[group];
        if (!value) continue;
        const start = group === undefined ? match.index : match.indices![group]![0];
        if (accept && !accept(value, text, start)) continue;
        spans.push({ start, end: start + value.length, label });
      }
    }
    return spans;
  };
}

const digitsOf = (value: string) => value.replace(/\D/g, "");

/** Luhn checksum of a card number's digits. */
function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** ISO 13616 check: country code and check digits moved to the end, letters as 10–35, mod 97 = 1. */
function ibanValid(iban: string): boolean {
  const compact = iban.replace(/ /g, "").toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(compact)) return false;
  let remainder = 0;
  for (const char of compact.slice(4) + compact.slice(0, 4)) {
    const value = char >= "A" ? String(char.charCodeAt(0) - 55) : char;
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

/** Dates (2024-01-15, 15.01.2024, 01/15/2024) and times, which number patterns must not take. */
const DATE_LIKE = /^\d{1,4}([./-])\d{1,2}\1\d{1,4}$|^\d{1,2}:\d{2}/;

/** Phone numbers: E.164 allows 15 digits; national numbers have at least 7. */
function phoneAccept(min: number) {
  return (value: string) => {
    const digits = digitsOf(value.replace(/^00/, ""));
    return digits.length >= min && digits.length <= 15 && !DATE_LIKE.test(value);
  };
}

const email: SpanFinder = patternFinder("EMAIL", [
  {
    pattern:
      /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}_%+-]+(?:\.[\p{L}\p{N}_%+-]+)*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*\.\p{L}{2,63}(?![\p{L}\p{N}-])/gu,
  },
]);

const phone: SpanFinder = patternFinder("PHONE", [
  // International: +49 30 1234567, +1 (555) 123-4567, +44 (0)20 7946 0958, 0044 20 7946 0958.
  {
    pattern:
      /(?<![\w+.,-])(?:\+|00)[1-9]\d{0,14}(?:[ .-]?\(\d{1,4}\)[ .-]?\d{1,8})?(?:[ .-]\d{1,8}){0,6}(?!\w)/g,
    accept: phoneAccept(8),
  },
  // North American: (555) 123-4567, 555-123-4567, 1-800-555-0199.
  {
    pattern: /(?<![\w+.,-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w]|[.,:/-]\d)/g,
    accept: phoneAccept(10),
  },
  // National with a trunk 0: 030 1234567, 0171-1234567, 020 7946 0958, 06 12 34 56 78,
  // 06.12.34.56.78, 030/1234567. Unseparated ones look like ISBNs and order numbers: only
  // taken when announced (below).
  {
    pattern:
      /(?<![\w+.,/-])(?:0\d{1,4}(?:[ -]\d{2,8}){1,4}|0[1-9](?:\.\d{2}){4}|0\d{2,4}\/\d{3,9})(?![\w]|[.,:/-]\d)/g,
    accept: phoneAccept(9),
  },
  // Any number announced as one: "call me at 5551234567", "my number is 07700900123".
  {
    pattern:
      /\b(?:phone|tel|telephone|mobile|cell|cellphone|whatsapp|fax|(?:call|text|reach) me (?:at|on)|my number)\b(?: number)?(?: is)?[\s:.#-]*(\+?\d[\d .()-]{5,}\d)(?![\w]|[.,:/-]\d)/dgi,
    group: 1,
    accept: phoneAccept(7),
  },
]);

/** Card number separators: none, or one kind between groups of 3–6 digits (the last may be shorter). */
function cardGrouping(value: string): boolean {
  const groups = value.split(/[ -]/);
  if (groups.length === 1) return true;
  if (new Set(value.match(/[ -]/g)).size > 1 || groups.length > 5) return false;
  return groups.every(
    (group, i) => group.length <= 6 && (group.length >= 3 || i === groups.length - 1),
  );
}

/** Issuer prefixes and the lengths their numbers have (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro). */
const CARD_BRANDS: [RegExp, number[]][] = [
  [/^4/, [13, 16, 19]],
  [/^(?:5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720))/, [16]],
  [/^3[47]/, [15]],
  [/^(?:6011|64[4-9]|65)/, [16, 17, 18, 19]],
  [/^35(?:2[89]|[3-8]\d)/, [16, 17, 18, 19]],
  [/^3(?:0[0-5]|[689])/, [14, 15, 16, 17, 18, 19]],
  [/^62/, [16, 17, 18, 19]],
  [/^(?:5[06-8]|6)/, [13, 14, 15, 16, 17, 18, 19]],
];

const card: SpanFinder = patternFinder("CARD", [
  {
    pattern: /(?<![\w+.,-])[2-6](?:[ -]?\d){12,18}(?![\w]|[ .,-]?\d)/g,
    accept: (value) => {
      const digits = digitsOf(value);
      return (
        CARD_BRANDS.some(
          ([prefix, lengths]) => prefix.test(digits) && lengths.includes(digits.length),
        ) &&
        cardGrouping(value) &&
        luhnValid(digits)
      );
    },
  },
]);

/**
 * IBAN-shaped strings, compact or in groups of four, and whether their checksum holds. A spaced
 * candidate may have swallowed a short word after the number ("… 7034 and"), so trailing
 * groups are dropped until the checksum holds; an invalid one is returned whole.
 */
function ibanShapes(text: string): { start: number; end: number; valid: boolean }[] {
  const shapes = [];
  const pattern =
    /(?<![\p{L}\p{N}])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,8}(?: ?[A-Za-z0-9]{1,3})?(?![\p{L}\p{N}])/gu;
  for (const match of text.matchAll(pattern)) {
    let candidate = match[0];
    while (!ibanValid(candidate) && candidate.lastIndexOf(" ") > 4) {
      candidate = candidate.slice(0, candidate.lastIndexOf(" "));
    }
    const valid = ibanValid(candidate);
    const end = match.index + (valid ? candidate : match[0]).length;
    shapes.push({ start: match.index, end, valid });
  }
  return shapes;
}

const iban: SpanFinder = (text) =>
  ibanShapes(text)
    .filter(({ valid }) => valid)
    .map(({ start, end }) => ({ start, end, label: "IBAN" }));

/** "version 1.2.3.4", "v1.2.3.4", "build 10.0.1.2": dotted numbers that are not addresses. */
const VERSION_BEFORE = /(?:\bv|\bversion|\bver\.?|\brelease|\bbuild|\bfirmware)\s*$/i;

const ip: SpanFinder = patternFinder("IP", [
  {
    pattern: /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)/g,
    accept: (value, text, start) =>
      isIPv4(value) && !VERSION_BEFORE.test(text.slice(Math.max(0, start - 12), start)),
  },
  {
    pattern:
      /(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?:%[A-Za-z0-9]+)?(?![\w:])/g,
    // A digit and two groups at least, so that "a::b" or "::" in code stay.
    accept: (value) => {
      const address = value.replace(/%.*$/, "");
      return (
        isIPv6(address) &&
        /\d/.test(address) &&
        address.split(":").filter((group) => group.length > 0).length >= 2
      );
    },
  },
]);

/** Shannon entropy in bits per character. */
function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * A random-looking token: letters and at least two digits, varied characters, and not a
 * hyphenated or snake_case name ("api-gateway-service-v2").
 */
function looksRandom(value: string): boolean {
  const digits = value.replace(/\D/g, "").length;
  const separators = value.replace(/[^_-]/g, "").length;
  return digits >= 2 && /[A-Za-z]/.test(value) && separators <= 1 && entropy(value) >= 3.5;
}

/** A value given to a secret-named key: letters and digits mixed, or long. */
const assignedSecret = (value: string) =>
  (/\d/.test(value) && /[A-Za-z]/.test(value)) || value.length >= 20;

/** PEM private keys, BEGIN to END; the END is looked up, not scanned for, to stay linear. */
const privateKeys: SpanFinder = (text) => {
  const spans: Span[] = [];
  const begin = /-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----/g;
  const end = /-----END [A-Z ]{0,40}PRIVATE KEY-----/g;
  for (let match = begin.exec(text); match; match = begin.exec(text)) {
    end.lastIndex = begin.lastIndex;
    const close = end.exec(text);
    if (!close) break;
    spans.push({ start: match.index, end: end.lastIndex, label: "SECRET" });
    begin.lastIndex = end.lastIndex;
  }
  return spans;
};

const secretPatterns: SpanFinder = patternFinder("SECRET", [
  // Vendor formats: OpenAI/Anthropic sk-…, Stripe, GitHub, AWS, Slack, Google, JWT.
  { pattern: /\bsk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}/g },
  { pattern: /\b[spr]k_(?:live|test)_[A-Za-z0-9]{16,}/g },
  { pattern: /\bgh[pousr]_[A-Za-z0-9]{30,}/g },
  { pattern: /\bgithub_pat_[A-Za-z0-9_]{40,}/g },
  { pattern: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b/g },
  { pattern: /\bxox[abprse]-[A-Za-z0-9-]{10,}/g },
  { pattern: /\bAIza[0-9A-Za-z_-]{35}/g },
  { pattern: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}/g },
  // Tokens with a key-ish prefix: key_…, token-…, secret_…, pat_….
  {
    pattern:
      /\b(?:key|api|apikey|token|tok|secret|pat|auth|access|session|sess|live|prod)[_-][A-Za-z0-9_-]{16,}/gi,
    accept: (value) => looksRandom(value.replace(/^[a-z]+[_-]/i, "")),
  },
  // Values: "Bearer …", "api_key=…", "client_secret: …".
  { pattern: /\bBearer\s+([A-Za-z0-9._~+/-]{16,}=*)/dg, group: 1 },
  {
    pattern:
      /(?:\b|(?<=[_-]))(?:api[_-]?key|secret(?:[_-]?key)?|client[_-]?secret|access[_-]?(?:key|token)|auth[_-]?token|token)\b["']?\s*[:=]\s*["']?([^\s"',;]{8,})/dgi,
    group: 1,
    accept: assignedSecret,
  },
  // Passwords: "password: hunter2", "my password is hunter2".
  {
    pattern:
      /\b(?:password|passwd|passphrase|passcode|pwd)\b["']?(?:\s*[:=]\s*|\s+(?:is|was)\s+)["'“]?([^\s"'”]{4,}?)["'”]?(?=[\s,;)]|[.!?](?:\s|$)|$)/dgi,
    group: 1,
  },
]);

const secret: SpanFinder = (text) => [...privateKeys(text), ...secretPatterns(text)];

/**
 * Look-alikes kept as they are, so that no detector takes a part of them: IBAN shapes (valid
 * ones are left to the IBAN detector, invalid ones are no phone or card either), UUIDs and
 * ISO 8601 timestamps.
 */
export const lookAlikes: SpanFinder = (text) => [
  ...ibanShapes(text).map(({ start, end }) => ({ start, end, label: null })),
  ...dataLookAlikes(text),
];

const dataLookAlikes: SpanFinder = patternFinder(null, [
  { pattern: /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi },
  {
    pattern:
      /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?(?![\w:])/g,
  },
]);

/** Names of the built-in detectors, in the order they win ties. */
export const BUILT_IN_DETECTORS = ["secret", "email", "iban", "card", "ip", "phone"] as const;

/** One of the built-in detectors. */
export type BuiltInDetector = (typeof BUILT_IN_DETECTORS)[number];

export const BUILT_IN_FINDERS: Record<BuiltInDetector, SpanFinder> = {
  secret,
  email,
  iban,
  card,
  ip,
  phone,
};
