#!/usr/bin/env node
// Compiles src/*.sol with the pinned solc (package.json) for TRON's TVM
// (evmVersion "paris": PUSH0 and later opcodes need governance votes on
// TRON) and writes one artifact per contract to build/NAME.json:
// {"contract", "compiler", "abi", "bytecode", "deployedBytecode"} (hex,
// no 0x). The Go package beside it embeds build/. The output is
// deterministic: `node build.js OUTDIR` writes elsewhere so a test can
// compare it with what is committed.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const WANT = "0.8.30";
const ARTIFACTS = ["ChequeVault", "TestToken", "VaultFactory"];
const version = solc.version();
if (!version.startsWith(WANT + "+")) {
  console.error(`solc ${version} is not the pinned ${WANT}: run npm ci in contracts/`);
  process.exit(1);
}
const srcDir = path.join(__dirname, "src");
const out = process.argv[2] || path.join(__dirname, "build");
const sources = {};
for (const f of fs.readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[f] = { content: fs.readFileSync(path.join(srcDir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "paris",
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const res = JSON.parse(solc.compile(JSON.stringify(input), { import: (p) => ({ contents: fs.readFileSync(path.join(srcDir, p), "utf8") }) }));
const errors = (res.errors || []).filter((e) => e.severity === "error");
for (const e of res.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
fs.mkdirSync(out, { recursive: true });
for (const file of Object.keys(res.contracts).sort()) {
  for (const name of Object.keys(res.contracts[file]).sort()) {
    const c = res.contracts[file][name];
    if (!ARTIFACTS.includes(name)) continue; // interfaces, libraries inlined
    const art = {
      contract: name,
      compiler: "solc " + version + " paris optimizer 200",
      abi: c.abi,
      bytecode: c.evm.bytecode.object,
      deployedBytecode: c.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(out, name + ".json"), JSON.stringify(art, null, 1) + "\n");
    console.log(`${name}: ${c.evm.bytecode.object.length / 2} bytes`);
  }
}
