import { readFileSync } from "node:fs";
import { join } from "node:path";
import assetsDir from "./assets_dir.cjs";

/** One static file of the inspector page, read once. */
export interface InspectorAsset {
  type: string;
  body: string;
}

const FILES: Record<string, [file: string, type: string]> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/inspector.js": ["inspector.js", "text/javascript; charset=utf-8"],
  "/inspector.css": ["inspector.css", "text/css; charset=utf-8"],
};

/**
 * The inspector's files by route: plain HTML, CSS and JavaScript shipped in the package
 * (`dist/*\/server/inspector/`), so nothing is built on the user's side.
 */
export function loadInspectorAssets(): Record<string, InspectorAsset> {
  return Object.fromEntries(
    Object.entries(FILES).map(([route, [file, type]]) => [
      route,
      { type, body: readFileSync(join(assetsDir, "inspector", file), "utf8") },
    ]),
  );
}
