// @ts-check
import { defineConfig } from "astro/config";

export default defineConfig({
  output: "static",
  // `file` gives /register.html, which Workers static assets serves at /register without the
  // trailing-slash redirect that `directory` output would trigger.
  build: { format: "file", inlineStylesheets: "never" },
  trailingSlash: "never",
  // The site is served by the worker from its own origin, so the API is same-origin and
  // needs no CORS; the CSP keeps it that way and blocks injected scripts (defence in depth
  // behind rendering every API string with textContent).
  security: {
    csp: {
      directives: [
        "default-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
      ],
    },
  },
  // No markdown pages; Shiki would emit inline styles the CSP forbids.
  markdown: { syntaxHighlight: false },
  devToolbar: { enabled: false },
});
