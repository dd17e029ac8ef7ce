// Bundle the browser verifier into ONE self-contained HTML file (dist/verify.html): all JavaScript and CSS
// inlined, a Content-Security-Policy that forbids every network request, the licences of the bundled npm
// packages carried inside (MIT asks that their notices travel with every copy).
import * as esbuild from "esbuild";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist", "verify.html");

const result = await esbuild.build({
  entryPoints: [join(here, "src", "ui.js")],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "none",
  metafile: true,
  write: false,
  logLevel: "warning",
});
const script = result.outputFiles[0].text;
const licences = packageLicences(Object.keys(result.metafile.inputs));
const css = readFileSync(join(here, "src", "ui.css"), "utf-8");
const template = readFileSync(join(here, "src", "ui.html"), "utf-8");
const safe = (text) => text.replaceAll("</script", "<\\/script").replaceAll("<!--", "<\\!--");
const html = template
  .replace("/*CSS*/", () => css)
  .replace("/*SCRIPT*/", () => safe(script))
  .replace("LICENCES", () => safe(licences));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, html);
console.log(`build verify.html: ${out} (${(html.length / 1024).toFixed(0)} KiB, packages: ${licences.split("\n== ").length - 1})`);

function packageLicences(inputs) {
  const packages = new Set();
  for (const input of inputs) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) packages.add(m[1]);
  }
  return [...packages].sort().map((name) => {
    const dir = join(here, "node_modules", name);
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf-8"));
    const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = file && existsSync(join(dir, file)) ? readFileSync(join(dir, file), "utf-8") : `licence: ${meta.license}`;
    return `\n== ${name} ${meta.version} (${meta.license})\n${text.trim()}\n`;
  }).join("");
}
