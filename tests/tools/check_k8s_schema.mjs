// Validates the objects of `efs2s3 generate k8s --json` against the
// Kubernetes OpenAPI schemas that the npm package kubernetes-models ships
// (compiled to ajv validators; no network at run time).
//
// Usage: node check_k8s_schema.mjs NODE_MODULES_PARENT OBJECTS.json
//   NODE_MODULES_PARENT: where `npm install kubernetes-models` was run
// Prints "ok" or one line per invalid object; exits 1 on any.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, file] = process.argv.slice(2);
const docs = JSON.parse(readFileSync(file, "utf8"));
const errors = [];
for (const doc of docs) {
  // "v1" -> v1/, "batch/v1" -> batch/v1/
  const module = join(dir, "node_modules", "kubernetes-models", doc.apiVersion, "index.js");
  const models = await import(pathToFileURL(module).href);
  const Model = models[doc.kind];
  if (!Model) {
    errors.push(`${doc.kind} ${doc.metadata?.name}: no such kind in ${doc.apiVersion}`);
    continue;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    errors.push(`${doc.kind} ${doc.metadata?.name}: ${e.message}`);
  }
}
if (errors.length) {
  console.log(errors.join("\n"));
  process.exit(1);
}
console.log("ok");
