// Build the studio page into ../static (shipped inside the Python package, so pip users need no Node):
//   static/index.html, static/app.js, static/app.css, and static/build.json with the sources' hash.
// tests/test_studio_build.py recomputes that hash and fails when the shipped build is older than its sources.
import { createHash } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const out = join(here, "..", "static");

// The files that make the page: everything under src/, the package files, this script. Sorted by path
// ("/" separators); the hash covers each path, a NUL, its bytes, a NUL.
export function sourceFiles() {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(here, path).split(sep).join("/"));
    }
  };
  walk(join(here, "src"));
  files.push("package.json", "package-lock.json", "build.mjs");
  return files.sort();
}

function sourcesHash(files) {
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(file);
    hash.update("\0");
    hash.update(readFileSync(join(here, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, "src", "main.js") },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  outdir: out,
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
const files = sourceFiles();
writeFileSync(join(out, "build.json"), JSON.stringify({ sources_sha256: sourcesHash(files), files }, null, 2) + "\n");
console.log(`built ${relative(process.cwd(), out)} from ${files.length} source files`);
