// Parses an AsyncAPI document with `@asyncapi/parser` and exits with status 1
// when the parser reports any diagnostic of severity error, after listing
// each one with its rule code and JSON path. Warnings are counted only.
//
// usage: node validate-asyncapi.mjs MODULES_DIR FILE
// MODULES_DIR is the npm prefix where `@asyncapi/parser` is installed.

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const [modulesDir, file] = process.argv.slice(2);
if (!modulesDir || !file) {
  console.error("usage: node validate-asyncapi.mjs MODULES_DIR FILE");
  process.exit(2);
}

// Resolve the parser from MODULES_DIR rather than from this script's folder.
const require = createRequire(path.join(path.resolve(modulesDir), "package.json"));
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

const source = path.resolve(file);
const text = await readFile(source, "utf8");
const { document, diagnostics } = await new Parser().parse(text, { source });

const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
for (const error of errors) {
  const at = error.path.length > 0 ? `/${error.path.join("/")}` : "(document)";
  console.error(`error ${error.code} at ${at}: ${error.message}`);
}

if (errors.length > 0 || document === undefined) {
  console.error(
    `${file}: invalid AsyncAPI document, ${errors.length} error(s), ${warnings.length} warning(s)`,
  );
  process.exit(1);
}
console.log(
  `${file}: valid AsyncAPI ${document.version()} document, ` +
    `${document.channels().length} channels, ${document.messages().length} messages, ` +
    `${document.operations().length} operations, ${warnings.length} warning(s)`,
);
