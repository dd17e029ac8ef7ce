// Strict JSON (the Python verifier's rules) and RFC 8785 canonical bytes (the RFC's own examples).
import { test } from "node:test";
import assert from "node:assert/strict";
import { MalformedInput } from "../src/errors.js";
import { canonicalText, loads } from "../src/json.js";

test("canonical sorts keys and strips whitespace", () => {
  assert.equal(canonicalText(loads('{"b": [1, {"d": 2, "c": null}], "a": "x"}', "t")), '{"a":"x","b":[1,{"c":null,"d":2}]}');
});

test("canonical numbers: RFC 8785 §3.2.2.3 examples", () => {
  assert.equal(canonicalText(loads("[1e21, 1e-7, 0.000001, 1.0, -0.0, 333333333.3333333]", "t")), "[1e+21,1e-7,0.000001,1,0,333333333.3333333]");
});

test("canonical strings: RFC 8785 example", () => {
  assert.equal(canonicalText("\u20ac$\u000f\nA'B\"\\\\\"/"), '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"');
});

test("canonical sorts keys by utf-16 code units", () => {
  const text = canonicalText(loads('{"\\ufb33": 1, "\\ud83d\\ude00": 2}', "t"));
  assert.ok(text.indexOf("😀") < text.indexOf("\ufb33"));
});

test("strict json refuses what the python verifier refuses", () => {
  for (const bad of ['{"a":1,"a":2}', "[NaN]", "[Infinity]", "[1e400]", "[9007199254740992]", '["\\ud800"]',
    "[1,]", "{} x", '{"a":\u0001}', '["\u0001"]', "[" .repeat(65) + "]".repeat(65), "01", "[.5]", "", '"\\x"']) {
    assert.throws(() => loads(bad, "t"), MalformedInput, bad);
  }
});

test("strict json keeps integers and floats apart, allows 64 levels and a utf-8 bom", () => {
  assert.equal(loads("[1]", "t")[0], 1);
  assert.equal(typeof loads("[1.0]", "t")[0], "object");
  loads("[".repeat(64) + "]".repeat(64), "t");
  assert.deepEqual(loads(new Uint8Array([0xef, 0xbb, 0xbf, 0x5b, 0x5d]), "t"), []);
  assert.equal(loads('{"__proto__": 1}', "t").__proto__, 1);
});
