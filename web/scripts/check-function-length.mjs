// No function in web/src longer than MAX_LINES: a long component or handler is split into named parts instead.
// Every function counts (declarations, expressions, arrows, methods, accessors, constructors), measured from its
// first token to its closing brace, so a nested callback also counts toward the function around it.
// Usage: node scripts/check-function-length.mjs [--max N] [--top N]  (--top N lists the longest; exit 1 if one is over)
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const MAX_LINES = 100;
const WEB = fileURLToPath(new URL("..", import.meta.url));

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** A function's name in the report: its own, else that of the variable, property or JSX attribute it is bound to. */
function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name) {
    return p.name.getText();
  }
  if (p && ts.isJsxExpression(p) && p.parent && ts.isJsxAttribute(p.parent)) return p.parent.name.getText();
  return "(anonymous)";
}

function functionsOf(file) {
  const text = readFileSync(file, "utf8");
  const kind = file.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const out = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ file, line: first + 1, name: nameOf(node), lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const max = option("--max", MAX_LINES);
const top = option("--top", 0);
const all = sources(join(WEB, "src"))
  .flatMap(functionsOf)
  .sort((a, b) => b.lines - a.lines);
const where = (f) => `${relative(WEB, f.file)}:${f.line} ${f.name}: ${f.lines} lines`;
for (const f of all.slice(0, top)) console.log(where(f));
const over = all.filter((f) => f.lines > max);
if (over.length > 0) {
  console.error(`functions over ${max} lines (split them into named parts):`);
  for (const f of over) console.error(`  ${where(f)}`);
  process.exit(1);
}
