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
const nationalNumbers = new Map<string, Normalized | null>();
const homePlans = new Map<string, HomePlan>();

interface Normalized { readonly called: string, readonly country: string | undefined }
interface HomePlan { readonly idd: RegExp }

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
  for (let len = 1; len <= 3 && len < digits.length; len++) {
    const callingCode = digits.slice(0, len);
    const countries = CALLING_CODES[callingCode];
    if (countries === undefined) continue;
    const rest = digits.length - len;
    if (rest < 2 || rest > 17) return undefined;
    if (countries.length === 1) return countries[0];
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

function homePlan (country: string): HomePlan {
  let plan = homePlans.get(country);
  if (plan === undefined) {
    if (!isSupportedCountry(country)) {
      throw new EngineError('VIGIL_ENGINE_FAILED', `home country must be a country with a numbering plan, got ${show(country)}`);
    }
    const meta = new Metadata();
    meta.selectNumberingPlan(country);
    const idd = meta.numberingPlan?.IDDPrefix() ?? '00';
    plan = { idd: new RegExp(`^(?:${idd})`) };
    homePlans.set(country, plan);
  }
  return plan;
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
  const idd = homePlan(homeCountry).idd.exec(digits);
  // As libphonenumber-js: after an international prefix a calling code follows, never a 0.
  if (idd !== null && digits.length > idd[0].length && digits.charCodeAt(idd[0].length) !== 48) {
    const rest = digits.slice(idd[0].length);
    return { called: `+${rest}`, country: countryOfE164(rest) };
  }
  const key = `${homeCountry}|${digits}`;
  const known = nationalNumbers.get(key);
  if (known !== undefined) return known ?? { called: raw, country: undefined };
  const parsed = parsePhoneNumberFromString(digits, homeCountry as CountryCode);
  const result = parsed === undefined ? null : { called: parsed.number, country: parsed.country };
  remember(nationalNumbers, key, result);
  return result ?? { called: raw, country: undefined };
}
