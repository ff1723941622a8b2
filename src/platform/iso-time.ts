/** The range a JavaScript Date can hold: ±100,000,000 days around the epoch, in milliseconds. */
export const maxEpochMs = 8.64e15;

const msPerDay = 86_400_000;
const twoDigits = (n: number) => (n < 10 ? "0" : "") + n;

/**
 * `new Date(ms).toISOString()` for any `ms` with |ms| ≤ maxEpochMs, fractions cut toward zero as
 * Date does, years beyond 0–9999 as ±YYYYYY. Computed with arithmetic rather than through a Date:
 * list answers format one or two times per row, and this spends no Date allocation on each.
 */
export function isoFromEpochMs(ms: number): string {
  const time = Math.trunc(ms);
  const days = Math.floor(time / msPerDay);
  const msOfDay = time - days * msPerDay;
  // Days to a proleptic Gregorian date: H. Hinnant's civil_from_days, with years starting in March
  // so the leap day falls at the end of the 400-year era.
  const sinceEraStart = days + 719_468;
  const era = Math.floor(sinceEraStart / 146_097);
  const dayOfEra = sinceEraStart - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yearText =
    year >= 0 && year <= 9999 ? String(year).padStart(4, "0") : (year < 0 ? "-" : "+") + String(Math.abs(year)).padStart(6, "0");
  const hours = Math.floor(msOfDay / 3_600_000);
  const minutes = Math.floor(msOfDay / 60_000) % 60;
  const seconds = Math.floor(msOfDay / 1000) % 60;
  const millis = msOfDay % 1000;
  const millisText = (millis < 10 ? "00" : millis < 100 ? "0" : "") + millis;
  return `${yearText}-${twoDigits(month)}-${twoDigits(day)}T${twoDigits(hours)}:${twoDigits(minutes)}:${twoDigits(seconds)}.${millisText}Z`;
}
