// `prepare` (run by `npm ci`, `npm install` and `npm pack` in this folder): builds dist/.
// Installing this folder from another project before `npm ci` ran here cannot build it, since
// TypeScript is a dev dependency; say so instead of failing with "tsc: not found".
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(here, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc)) {
  if (existsSync(join(here, "dist", "index.js"))) process.exit(0);
  console.error(
    "@agent-sessions/client is not built: run `npm ci` in clients/typescript first (it installs\n" +
      "TypeScript and builds dist/), then install it, or install the tarball `npm pack` makes there.",
  );
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
  cwd: here,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
