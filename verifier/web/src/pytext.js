// Comparisons with Python's semantics, where the Python verifier's outcome depends on them: strings compare
// by code point (JavaScript compares UTF-16 code units), and == between JSON numbers and booleans.
import { JFloat } from "./json.js";

/** -1, 0 or 1 comparing strings by Unicode code point, as Python's str comparison. */
export function comparePy(a, b) {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d < 0 ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

/** Python's `value == n` for a parsed JSON value and an integer n (True == 1, 5.0 == 5). */
export function equalsInt(value, n) {
  if (typeof value === "number") return value === n;
  if (typeof value === "boolean") return Number(value) === n;
  if (value instanceof JFloat) return value.value === n;
  return false;
}
