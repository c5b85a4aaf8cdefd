// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".tmp/**", "scripts/toolchain/go/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
      "no-restricted-syntax": [
        "error",
        {
          selector: "NewExpression[callee.name='Client'], NewExpression[callee.property.name='Client']",
          message: "Make node-postgres clients with pgClient() (sdk/postgres/client.ts): a client without an 'error' listener crashes the process when its server goes away while it is idle.",
        },
      ],
    },
  },
  { files: ["sdk/postgres/client.ts"], rules: { "no-restricted-syntax": "off" } },
  {
    // Dynamic providers are serialized by Pulumi and must require() what they use inside each method.
    files: ["components/**/*-provider.ts", "test/fixtures/*-provider.ts"],
    rules: {
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/consistent-type-imports": ["error", { disallowTypeAnnotations: false }],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js", "bin/*"],
    languageOptions: {
      globals: { process: "readonly", console: "readonly", require: "readonly", module: "writable", __dirname: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", Buffer: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
