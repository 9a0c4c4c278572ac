// The browser tokenizer on the command line, with the contract of `medmir tokenize --vocab PATH`: one text per line
// on stdin (only "\n" ends a line, one trailing "\r" is dropped, a last line without "\n" counts), one JSON array of
// ids per line on stdout, formatted as Python's json.dumps formats it.
//
// Usage: node scripts/tokenize.mjs --vocab PATH   (from web/, or npm --prefix web run -s tokenize -- --vocab PATH)
//
// src/worker/model/tokenizer.ts is imported through import-ts.mjs (Node 20 cannot import .ts).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { importTs } from "./import-ts.mjs";

const USAGE = "usage: tokenize --vocab PATH  (texts on stdin, one per line)";

function fail(message) {
  process.stderr.write(`tokenize: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  let vocab;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--vocab") vocab = argv[++i];
    else if (a.startsWith("--vocab=")) vocab = a.slice("--vocab=".length);
    else if (a === "-h" || a === "--help") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else fail(`unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (!vocab) fail(`--vocab is required\n${USAGE}`);
  // `npm --prefix web run` runs in web/; INIT_CWD is where the user typed the command, which a relative path means.
  return { vocab: resolve(process.env.INIT_CWD ?? process.cwd(), vocab) };
}

function loadTokenizerModule() {
  return importTs(new URL("../src/worker/model/tokenizer.ts", import.meta.url));
}

function decodeUtf8(bytes, what) {
  try {
    // ignoreBOM keeps a byte-order mark as U+FEFF, as Python's bytes.decode("utf-8") does.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    fail(`${what}: not UTF-8`);
  }
}

async function main() {
  const { vocab: vocabPath } = parseArgs(process.argv.slice(2));
  let vocabBytes;
  try {
    vocabBytes = readFileSync(vocabPath);
  } catch (err) {
    fail(`${vocabPath}: cannot read vocabulary (${err.code ?? err.message})`);
  }
  const { WordPieceTokenizer, parseVocab } = await loadTokenizerModule();
  let tok;
  try {
    tok = new WordPieceTokenizer(parseVocab(decodeUtf8(vocabBytes, vocabPath)));
  } catch (err) {
    fail(`${vocabPath}: ${err.message}`);
  }

  const text = decodeUtf8(readFileSync(0), "stdin");
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  let out = "";
  for (const line of lines) {
    const ids = tok.encode(line.endsWith("\r") ? line.slice(0, -1) : line);
    out += `[${ids.join(", ")}]\n`;
  }
  process.stdout.write(out);
}

await main();
