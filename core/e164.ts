/**
 * `called` of a usage record: normalized to E.164 and given its country, from libphonenumber-js's
 * metadata, fast enough for the hot path (memo tables, calling code first, full parsing only for
 * national numbers in the home plan).
 */
import type { CountryCode } from 'libphonenumber-js/min';
import { Metadata, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import metadata from 'libphonenumber-js/min/metadata';
import { EngineError, show } from './errors.js';

/**
 * calling code -> countries, main country first, from libphonenumber-js's own metadata (the
 * `min` set: it carries every pattern needed to tell countries sharing a calling code apart,
 * e.g. US from CA by area code, at half the size of `max`; both give the same country).
 * Non-geographic codes (+800, +881-883, …) are absent, so they get no country.
 */
const CALLING_CODES = metadata.country_calling_codes as Readonly<Record<string, readonly string[] | undefined>>;
// Bounded memo tables; cleared when full (a replay touches far fewer distinct numbers at once).
const MEMO_LIMIT = 100_000;
const sharedCountries = new Map<string, string | null>();
const homePlans = new Map<string, HomePlan>();

interface Normalized { readonly called: string, readonly country: string | undefined }
interface HomePlan {
  readonly idd: RegExp;
  /** The international prefix when it is plain digits (00, 011, 810): tested without the regex. */
  readonly iddDigits: string | undefined;
  /** How a national number is read; undefined: by libphonenumber-js itself, memoized in `parsed`. */
  readonly national: NationalPlan | undefined;
  /** digits -> libphonenumber-js's result (only for a home plan without `national`). */
  readonly parsed: Map<string, Normalized | null>;
}

function remember<V> (memo: Map<string, V>, key: string, value: V): V {
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, value);
  return value;
}

/**
 * What libphonenumber-js's Metadata exposes at run time beyond its typings; read once per
 * shared calling code to precompile the patterns it would otherwise compile on every call.
 */
interface PlanInternals {
  leadingDigits(): string | undefined;
  nationalNumberPattern(): string;
  nationalPrefixForParsing(): string | undefined;
  type(name: string): { pattern(): string, possibleLengths(): readonly number[] | undefined } | undefined;
}
interface Candidate {
  readonly country: string;
  readonly leading: RegExp | undefined;
  readonly general: RegExp;
  readonly types: ReadonlyArray<{ readonly re: RegExp, readonly lengths: readonly number[] | undefined }>;
}
interface SharedPlan { readonly nationalPrefix: RegExp | undefined, readonly candidates: readonly Candidate[] }

const NUMBER_TYPES = ['FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];
const sharedPlans = new Map<string, SharedPlan | null>();

function sharedPlan (callingCode: string, countries: readonly string[]): SharedPlan | null {
  let plan = sharedPlans.get(callingCode);
  if (plan !== undefined) return plan;
  try {
    const meta = new Metadata();
    const candidates: Candidate[] = [];
    let nationalPrefix: RegExp | undefined;
    for (const country of countries) {
      meta.selectNumberingPlan(country as CountryCode);
      const p = meta.numberingPlan as unknown as PlanInternals;
      // The main (first) country's plan is the one a `+` number is parsed in.
      if (candidates.length === 0) {
        const np = p.nationalPrefixForParsing();
        nationalPrefix = np ? new RegExp(`^(?:${np})`) : undefined;
      }
      const leading = p.leadingDigits();
      const types = [];
      for (const name of NUMBER_TYPES) {
        const t = p.type(name);
        const pattern = t?.pattern();
        if (t !== undefined && pattern) types.push({ re: new RegExp(`^(?:${pattern})$`), lengths: t.possibleLengths() });
      }
      candidates.push({ country, leading: leading ? new RegExp(`^(?:${leading})`) : undefined, general: new RegExp(`^(?:${p.nationalNumberPattern()})$`), types });
    }
    plan = { nationalPrefix, candidates };
  } catch {
    // The library's internals moved: every shared-code number takes the (slower) parse.
    plan = null;
  }
  sharedPlans.set(callingCode, plan);
  return plan;
}

/**
 * libphonenumber-js's getCountryByNationalNumber (helpers/getCountryByNationalNumber.js and
 * getNumberType.js, MIT), with the patterns compiled once instead of on every call: the first
 * country whose leading digits match, or, for one without leading digits, whose general and
 * some type pattern match. A test compares it with parsePhoneNumberFromString.
 */
function countryByNationalNumber (plan: SharedPlan, national: string): string | undefined {
  for (const c of plan.candidates) {
    if (c.leading !== undefined) {
      if (c.leading.test(national)) return c.country;
    } else if (c.general.test(national)) {
      for (const t of c.types) {
        if ((t.lengths === undefined || t.lengths.includes(national.length)) && t.re.test(national)) return c.country;
      }
    }
  }
  return undefined;
}

/**
 * CALLING_CODES by length (1-3 digits) and numeric value: a code is read from the digits'
 * char codes, with no substring and no property lookup by string per number.
 */
const CODE_TABLES: ReadonlyArray<ReadonlyArray<readonly string[] | undefined>> = [1, 2, 3].map((len) => {
  const table = new Array<readonly string[] | undefined>(10 ** len).fill(undefined);
  for (const [code, countries] of Object.entries(CALLING_CODES)) {
    if (code.length === len && countries !== undefined && /^\d+$/.test(code)) table[Number(code)] = countries;
  }
  return table;
});

function allDigits (s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * The country of an international number given as its digits (no `+`), or undefined.
 * "Country" is attributed, not validated: a calling code that belongs to one country gives
 * that country whatever the rest of the number is (IRSF ranges are often unassigned or
 * premium numbers that strict validation would refuse); a calling code shared by several
 * countries (+1, +7, +44, +61, …) is resolved as libphonenumber-js resolves it, from the
 * national number (leading digits, then number patterns), and stays absent when no country
 * claims it. As in libphonenumber-js, a national part shorter than 2 or longer than 17 digits
 * gets none. A plain parse costs 4-13 µs, so it is only the fallback for the rare national
 * number that starts with a national prefix (the library strips that first).
 */
export function countryOfE164 (digits: string): string | undefined {
  const fast = allDigits(digits);
  let value = 0;
  for (let len = 1; len <= 3 && len < digits.length; len++) {
    value = value * 10 + digits.charCodeAt(len - 1) - 48;
    const countries = fast ? CODE_TABLES[len - 1]![value] : CALLING_CODES[digits.slice(0, len)];
    if (countries === undefined) continue;
    const rest = digits.length - len;
    if (rest < 2 || rest > 17) return undefined;
    if (countries.length === 1) return countries[0];
    const callingCode = digits.slice(0, len);
    const national = digits.slice(len);
    const plan = sharedPlan(callingCode, countries);
    if (plan !== null && (plan.nationalPrefix === undefined || !plan.nationalPrefix.test(national))) {
      return countryByNationalNumber(plan, national);
    }
    const known = sharedCountries.get(digits);
    if (known !== undefined) return known ?? undefined;
    return remember(sharedCountries, digits, parsePhoneNumberFromString(`+${digits}`)?.country ?? null) ?? undefined;
  }
  return undefined;
}

/**
 * A home plan's rules for reading a national number, compiled once. Only for a country that
 * has its calling code to itself (DE, FR, AT, ...): with a shared code (US, GB, IT, ...) the
 * country of a national number depends on per-country patterns, and the library reads it.
 */
interface NationalPlan {
  readonly callingCode: string;
  readonly country: string;
  /** nationalPrefixForParsing, anchored; undefined when the plan has none */
  readonly prefix: RegExp | undefined;
  readonly transform: string | undefined;
  readonly general: RegExp;
  readonly lengths: readonly number[] | undefined;
}

/** What libphonenumber-js's NumberingPlan exposes at run time for national parsing. */
interface NationalInternals {
  callingCode(): string;
  IDDPrefix(): string | undefined;
  nationalPrefixForParsing(): string | undefined;
  nationalPrefixTransformRule(): string | undefined;
  nationalNumberPattern(): string;
  possibleLengths(): readonly number[] | undefined;
}

function nationalPlan (country: string, p: NationalInternals): NationalPlan | undefined {
  try {
    const callingCode = p.callingCode();
    const countries = CALLING_CODES[callingCode];
    if (countries === undefined || countries.length !== 1 || countries[0] !== country) return undefined;
    const np = p.nationalPrefixForParsing();
    // The compact metadata writes 0 for an absent list.
    const lengths = p.possibleLengths();
    return {
      callingCode,
      country,
      prefix: np ? new RegExp(`^(?:${np})`) : undefined,
      transform: p.nationalPrefixTransformRule() || undefined,
      general: new RegExp(`^(?:${p.nationalNumberPattern()})$`),
      lengths: Array.isArray(lengths) ? lengths : undefined,
    };
  } catch {
    // The library's internals moved: national numbers take the (slower) parse.
    return undefined;
  }
}

function homePlan (country: string): HomePlan {
  let plan = homePlans.get(country);
  if (plan === undefined) {
    if (!isSupportedCountry(country)) {
      throw new EngineError('VIGIL_ENGINE_FAILED', `home country must be a country with a numbering plan, got ${show(country)}`);
    }
    const meta = new Metadata();
    meta.selectNumberingPlan(country);
    const internals = meta.numberingPlan as unknown as NationalInternals | undefined;
    const idd = internals?.IDDPrefix() ?? '00';
    plan = {
      idd: new RegExp(`^(?:${idd})`),
      iddDigits: /^\d+$/.test(idd) ? idd : undefined,
      national: internals === undefined ? undefined : nationalPlan(country, internals),
      parsed: new Map(),
    };
    homePlans.set(country, plan);
  }
  return plan;
}

/** libphonenumber-js's checkNumberLength (helpers/checkNumberLength.js): TOO_SHORT, INVALID_LENGTH, TOO_LONG or possible. */
type LengthCheck = 'possible' | 'TOO_SHORT' | 'INVALID_LENGTH' | 'TOO_LONG';
function checkLength (lengths: readonly number[] | undefined, length: number): LengthCheck {
  if (lengths === undefined) return 'possible';
  const min = lengths[0];
  // As the library: an empty list makes every length invalid.
  if (min === undefined) return 'INVALID_LENGTH';
  if (min === length) return 'possible';
  if (min > length) return 'TOO_SHORT';
  if (lengths[lengths.length - 1]! < length) return 'TOO_LONG';
  return lengths.indexOf(length, 1) >= 0 ? 'possible' : 'INVALID_LENGTH';
}

/**
 * libphonenumber-js's extractNationalNumber (helpers/extractNationalNumber.js and
 * extractNationalNumberFromPossiblyIncompleteNumber.js, MIT) for a plan whose calling code
 * belongs to one country: strip the national prefix (applying the transform rule), unless the
 * number only fits the plan with it or what is left is too short or of an impossible length.
 */
function extractNational (plan: NationalPlan, number: string): string {
  if (plan.prefix === undefined || number.length === 0) return number;
  const m = plan.prefix.exec(number);
  if (m === null) return number;
  const groups = m.length - 1;
  const captured = groups > 0 && Boolean(m[groups]);
  const national = plan.transform !== undefined && captured ? number.replace(plan.prefix, plan.transform) : number.slice(m[0].length);
  if (national === number) return number;
  if (plan.general.test(number) && !plan.general.test(national)) return number;
  if (plan.lengths !== undefined) {
    const check = checkLength(plan.lengths, national.length);
    if (check === 'TOO_SHORT' || check === 'INVALID_LENGTH') return number;
  }
  return national;
}

/**
 * What parsePhoneNumberFromString(digits, home) gives for digits that carry no international
 * prefix followed by a calling code (normalizeCalled handled those), ported from parse.js's
 * parsePhoneNumber and extractCountryCallingCodeFromInternationalNumberWithoutPlusSign.js:
 * a number that starts with the home calling code is read as international when only that
 * reading fits the plan (or the national reading is too long); the national (significant)
 * number must then have 2-17 digits. A test compares it with the library on random numbers.
 */
function parseNational (plan: NationalPlan, digits: string): Normalized | null {
  // parse.js: more than 250 characters is not a number; fewer than 2 digits is too short.
  if (digits.length > 250 || digits.length < 2) return null;
  let national: string | undefined;
  if (digits.startsWith(plan.callingCode)) {
    const shorter = digits.slice(plan.callingCode.length);
    const shorterNational = extractNational(plan, shorter);
    const whole = extractNational(plan, digits);
    if ((!plan.general.test(whole) && plan.general.test(shorterNational)) || checkLength(plan.lengths, whole.length) === 'TOO_LONG') {
      national = shorterNational;
    } else {
      national = whole;
    }
  } else {
    national = extractNational(plan, digits);
  }
  if (national.length < 2 || national.length > 17) return null;
  return { called: `+${plan.callingCode}${national}`, country: plan.country };
}

/**
 * `called` as E.164 plus its country (records.md): spaces, dashes, dots, slashes and
 * parentheses are dropped; `+digits` stays; without `+`, the home country's international
 * prefix (00 in DE, 011 in US) makes the rest international, and anything else is a national
 * number parsed in the home plan by libphonenumber-js (national prefix, trunk codes). With no
 * home country, digits are E.164 without the `+`. A value that is none of these (a SIP URI, an
 * alphanumeric SMS sender, a number starting with 0 and no home plan) stays as received.
 */
export function normalizeCalled (raw: string, homeCountry: string | undefined): Normalized {
  let plus = false;
  let digits = '';
  let clean = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    if (c === 43 && i === 0) { plus = true; continue; }
    // space, tab, ( ) - . /
    if (c === 32 || c === 9 || c === 40 || c === 41 || c === 45 || c === 46 || c === 47) { clean = false; continue; }
    return { called: raw, country: undefined };
  }
  digits = clean ? (plus ? raw.slice(1) : raw) : raw.replace(/[^0-9]/g, '');
  if (digits.length === 0) return { called: raw, country: undefined };
  if (plus) return { called: clean ? raw : `+${digits}`, country: countryOfE164(digits) };
  if (homeCountry === undefined) {
    if (digits.charCodeAt(0) === 48) return { called: raw, country: undefined };
    return { called: `+${digits}`, country: countryOfE164(digits) };
  }
  const plan = homePlan(homeCountry);
  let iddLength = -1;
  if (plan.iddDigits !== undefined) {
    if (digits.startsWith(plan.iddDigits)) iddLength = plan.iddDigits.length;
  } else {
    const idd = plan.idd.exec(digits);
    if (idd !== null) iddLength = idd[0].length;
  }
  // As libphonenumber-js: after an international prefix a calling code follows, never a 0.
  if (iddLength >= 0 && digits.length > iddLength && digits.charCodeAt(iddLength) !== 48) {
    const rest = digits.slice(iddLength);
    return { called: `+${rest}`, country: countryOfE164(rest) };
  }
  if (plan.national !== undefined) return parseNational(plan.national, digits) ?? { called: raw, country: undefined };
  const known = plan.parsed.get(digits);
  if (known !== undefined) return known ?? { called: raw, country: undefined };
  const parsed = parsePhoneNumberFromString(digits, homeCountry as CountryCode);
  const result = parsed === undefined ? null : { called: parsed.number, country: parsed.country };
  remember(plan.parsed, digits, result);
  return result ?? { called: raw, country: undefined };
}
