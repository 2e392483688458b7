#!/usr/bin/env node
// tfcheck.js - offline checks of a Terraform directory, short of
// `terraform validate` (no terraform binary or providers here):
//   1. every .tf file parses (HCL syntax, through @cdktf/hcl2json);
//   2. every var.X, local.X, data.T.N and resource reference T.N points at
//      something declared in the directory;
//   3. every declared variable is used.
// The `from` address of a moved block is the old name and is not checked.
// Prints one TAP-style line per failure on stderr; exits 1 on any failure.
//
//   node deploy/tfcheck.js TOOLS_DIR TERRAFORM_DIR
"use strict";

const fs = require("fs");
const path = require("path");

const [toolsDir, tfDir] = process.argv.slice(2);
if (!toolsDir || !tfDir) {
  console.error("usage: tfcheck.js TOOLS_DIR TERRAFORM_DIR");
  process.exit(2);
}
const { parse } = require(path.resolve(toolsDir, "node_modules", "@cdktf", "hcl2json"));

// Comments and strings that are not interpolations do not hold references,
// but a reference inside "${...}" counts: drop comments only.
function stripComments(text) {
  return text
    .split("\n")
    .map((line) => {
      let inString = false;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (c === '"' && line[i - 1] !== "\\") inString = !inString;
        if (!inString && (c === "#" || (c === "/" && line[i + 1] === "/"))) return line.slice(0, i);
      }
      return line;
    })
    .join("\n");
}

async function main() {
  const files = fs.readdirSync(tfDir).filter((f) => f.endsWith(".tf")).sort();
  const problems = [];
  const declared = { variable: new Set(), local: new Set(), data: new Set(), resource: new Set() };
  const texts = {};
  for (const f of files) {
    const text = fs.readFileSync(path.join(tfDir, f), "utf8");
    texts[f] = stripComments(text);
    let doc;
    try {
      doc = await parse(f, text);
    } catch (e) {
      problems.push(`${f}: does not parse: ${String(e.message || e).split("\n")[0]}`);
      continue;
    }
    for (const name of Object.keys(doc.variable || {})) declared.variable.add(name);
    for (const block of doc.locals || []) for (const name of Object.keys(block)) declared.local.add(name);
    for (const [type, byName] of Object.entries(doc.data || {}))
      for (const name of Object.keys(byName)) declared.data.add(`${type}.${name}`);
    for (const [type, byName] of Object.entries(doc.resource || {}))
      for (const name of Object.keys(byName)) declared.resource.add(`${type}.${name}`);
  }

  const used = new Set();
  for (const [f, text] of Object.entries(texts)) {
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      const where = `${f}:${i + 1}`;
      // A moved block's `from` names an address that no longer exists.
      if (/^\s*from\s*=/.test(line)) return;
      for (const m of line.matchAll(/\bvar\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
        used.add(m[1]);
        if (!declared.variable.has(m[1])) problems.push(`${where}: undeclared variable var.${m[1]}`);
      }
      for (const m of line.matchAll(/\blocal\.([A-Za-z_][A-Za-z0-9_]*)/g))
        if (!declared.local.has(m[1])) problems.push(`${where}: undeclared local.${m[1]}`);
      for (const m of line.matchAll(/\bdata\.([a-z0-9_]+)\.([A-Za-z0-9_-]+)/g))
        if (!declared.data.has(`${m[1]}.${m[2]}`)) problems.push(`${where}: undeclared data.${m[1]}.${m[2]}`);
      for (const m of line.matchAll(/(?<![.\w"])((?:aws|random)_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)/g))
        if (!declared.resource.has(`${m[1]}.${m[2]}`)) problems.push(`${where}: undeclared resource ${m[1]}.${m[2]}`);
    });
  }
  for (const v of declared.variable) if (!used.has(v)) problems.push(`variable "${v}" is never used`);

  for (const p of problems) console.error(`# ${p}`);
  console.log(
    `${files.length} files, ${declared.resource.size} resources, ${declared.data.size} data sources, ` +
      `${declared.variable.size} variables: ${problems.length} problems`
  );
  process.exit(problems.length ? 1 : 0);
}

main().catch((e) => {
  console.error(`# ${e.stack || e}`);
  process.exit(1);
});
