import { readFileSync } from "node:fs";

// src/ (run from source) and dist/ (published) are both one level below package.json.
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
})();
