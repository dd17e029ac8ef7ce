// The browser verifier's core from the command line, for tests and benchmarks (the court uses verify.html):
//   node cli.mjs verify PACK.zip|FOLDER [--trust-root FILE]   prints the report as JSON; exit 0, 1 or 2
//   node cli.mjs batch [--trust-root FILE]                     one pack path per stdin line -> one JSON line each
//   node cli.mjs canonical    one JSON text (base64 of its bytes) per stdin line -> hex canonical bytes or "refused"
//   node cli.mjs tokens | cosignatures   one receipt check per stdin line (JSON) -> one JSON result per line
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { verifyPack } from "./src/index.js";
import { canonical, loads } from "./src/json.js";
import { fromBase64, toHex, utf8 } from "./src/bytes.js";
import { MalformedInput, VerifierError } from "./src/errors.js";
import { verifyToken } from "./src/timestamp.js";
import { verifyCosignatures } from "./src/cosignature.js";
import { Checkpoint } from "./src/checkpoint.js";
import { TrustRoot } from "./src/trust.js";

function source(path) {
  if (!statSync(path).isDirectory()) return { zip: new Uint8Array(readFileSync(path)) };
  const folder = new Map();
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else folder.set(relative(path, full).split("\\").join("/"), new Uint8Array(readFileSync(full)));
    }
  };
  walk(path);
  return { folder };
}

async function verify(path, trustRoot) {
  let src;
  try {
    src = source(path);
  } catch (exc) {
    return { valid: false, reason: "unreadable", path: null, detail: `cannot read ${path}: ${exc.message}`, exit_code: 2 };
  }
  return verifyPack(src, trustRoot);
}

// One receipt check on its own, for the agreement tests: {"token", "message", "roots"} (base64, DER roots) or
// {"checkpoint", "witnesses": [{"name", "public_key"}]} -> {"ok": true, ...result} or {"ok": false, "error"}.
async function receiptCheck(kind, input) {
  try {
    if (kind === "tokens") {
      const roots = input.roots.map((r, i) => fromBase64(r, `root ${i}`));
      return { ok: true, ...await verifyToken(fromBase64(input.token, "token"), fromBase64(input.message, "message"), [{ name: "tsa", certificates: roots }]) };
    }
    const keys = TrustRoot.fromBytes(utf8(JSON.stringify({ v: 1, type: "tiezheng.trust-root/v1", logs: [], witnesses: { quorum: 0, keys: input.witnesses } }))).witnesses.keys;
    return { ok: true, cosigners: verifyCosignatures(Checkpoint.fromText(input.checkpoint), keys) };
  } catch (exc) {
    if (!(exc instanceof VerifierError)) throw exc;
    return { ok: false, error: exc.name, detail: exc.message };
  }
}

const args = process.argv.slice(2);
const flag = args.indexOf("--trust-root");
const trustRoot = flag >= 0 ? new Uint8Array(readFileSync(args[flag + 1])) : null;
const plain = args.filter((a, i) => i !== flag && i !== flag + 1 || flag < 0);
const replacer = (key, value) => (typeof value === "bigint" ? value.toString() : value);
if (plain[0] === "verify" && plain[1]) {
  const report = await verify(plain[1], trustRoot);
  console.log(JSON.stringify(report, replacer, 2));
  process.exitCode = report.exit_code;
} else if (plain[0] === "batch") {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const { valid, reason, path, exit_code, assurance } = await verify(line.trim(), trustRoot);
    process.stdout.write(JSON.stringify({ pack: line.trim(), valid, reason, path, exit_code, assurance: valid ? assurance : null }) + "\n");
  }
} else if (plain[0] === "canonical") {
  for await (const line of createInterface({ input: process.stdin })) {
    let out;
    try {
      out = toHex(canonical(loads(fromBase64(line.trim(), "line"), "input")));
    } catch (exc) {
      if (!(exc instanceof MalformedInput)) throw exc;
      out = "refused";
    }
    process.stdout.write(out + "\n");
  }
} else if (plain[0] === "tokens" || plain[0] === "cosignatures") {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim()) process.stdout.write(JSON.stringify(await receiptCheck(plain[0], JSON.parse(line)), replacer) + "\n");
  }
} else {
  console.error("usage: node cli.mjs verify PACK [--trust-root FILE] | batch [--trust-root FILE] | tokens | cosignatures");
  process.exitCode = 2;
}
