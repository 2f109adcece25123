// `npm run generate`: regenerates src/gen/ from ../../protos with buf and protoc-gen-es, both
// pinned in package-lock.json, so the output is the same on every machine.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "..");
const deps = join(here, "..", "..", "gen", "buf-deps", "google", "api", "annotations.proto");
if (!existsSync(deps)) {
  console.error(
    "gen/buf-deps is missing: run `make generate` in the repository root first; it copies the\n" +
      "google/api and google/rpc protos there (the Buf Schema Registry is not reachable).",
  );
  process.exit(1);
}
const buf = join(here, "node_modules", ".bin", "buf");
const result = spawnSync(buf, ["generate"], { cwd: here, stdio: "inherit" });
process.exit(result.status ?? 1);
