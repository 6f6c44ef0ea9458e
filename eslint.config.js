// Type-aware lint, run by `npm test`. Every rule turned off below says why.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bench/results/", "coverage/"] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["*.js", "*.ts"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { regex: "^(?!node:)(fs|path|os|util|events|worker_threads|net|child_process|async_hooks|crypto|stream|timers|url|v8|perf_hooks|diagnostics_channel|assert|buffer|module)(/.*)?$", message: "Use the node: prefix." },
          ],
        },
      ],
      "no-process-exit": "off",
    },
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      // The library never ends the process; only demos and worker entry points may.
      "no-restricted-properties": ["error", { object: "process", property: "exit", message: "Library code must not exit the process." }],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // Tests build futures and handles by hand and assert on them loosely typed.
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      // Test callbacks passed to the loop are often async on purpose (to check the debug report).
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["*.js", "*.config.ts"],
    ...tseslint.configs.disableTypeChecked,
  },
);
