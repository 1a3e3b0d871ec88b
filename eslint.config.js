// Lint for the TypeScript sources (src/, head/, node-agent/): typescript-eslint's recommended rules,
// no import cycles, the layering between the folders, and files short enough to read in one sitting.
// docs/decisions.md ("Lint and layering") says why each rule and package is here.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import stylistic from "@stylistic/eslint-plugin";
import { importX, createNodeResolver } from "eslint-plugin-import-x";

// The layering. Paths are relative to this file; `from` may not be imported by files in `target`.
const layers = [
  { target: "./head", from: "./node-agent", message: "head/ and node-agent/ never import each other: share through src/." },
  { target: "./node-agent", from: "./head", message: "head/ and node-agent/ never import each other: share through src/." },
  { target: "./src", from: ["./head", "./node-agent"], message: "src/ is the library: it never imports the daemons." },
  // helios/util is built on the public API (src/index.ts) and on what src/internal.ts declares it
  // may use beyond it; nothing else of the library.
  {
    target: "./src/util",
    from: "./src",
    except: ["./util", "./index.ts", "./internal.ts"],
    message: "helios/util imports only the public API (src/index.ts) or the internal entry declared for it (src/internal.ts).",
  },
  { target: ["./src/!(util)/**", "./src/!(internal).ts", "./head", "./node-agent"], from: "./src/internal.ts", message: "src/internal.ts is helios/util's entry into the library's internals, for it alone." },
  // Entries that nothing imports: helios/util (its own package entry) and the worker process.
  { target: ["./src/!(util)/**", "./src/*.ts", "./head", "./node-agent"], from: "./src/util", message: "helios/util is an entry on top of the library; the library does not import it." },
  { target: ["./src/!(worker)/**", "./src/*.ts", "./head", "./node-agent"], from: "./src/worker", message: "src/worker/ is the worker process's entry; it is started, not imported." },
  // A folder inside another is its parent's business.
  { target: ["./src/!(core)/**", "./src/*.ts", "./head", "./node-agent"], from: "./src/core/tasks", message: "src/core/tasks/ is internal to src/core/." },
  { target: ["./src/!(core)/**", "./src/*.ts", "./head", "./node-agent"], from: "./src/core/objects", message: "src/core/objects/ is internal to src/core/." },
  { target: ["./head", "./node-agent"], from: "./src/core", message: "the daemons do not reach into the core worker: what both sides use lives outside src/core (e.g. src/object-store/)." },
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "test/**", "bench/**", "examples/**", "scratch/**", "v/**", "eslint.config.js"] },
  {
    files: ["src/**/*.ts", "head/**/*.ts", "node-agent/**/*.ts"],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { "import-x": importX, "@stylistic": stylistic },
    settings: {
      // Without these, no-cycle does not follow an import into a .ts file (it reports nothing).
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      // Sources import each other as "./x.js" (NodeNext); the files are x.ts.
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js", ".json", ".node"], extensionAlias: { ".js": [".ts", ".js"] } })],
    },
    rules: {
      // Deliberate in the serializer, the wire and the public generics (`F extends (...args: any[]) => any`);
      // ~100 uses, to be narrowed to unknown where they are not deliberate, as a change of its own.
      "@typescript-eslint/no-explicit-any": "off",
      // `Function` is what remote() and helios/util take: any function or class, whose source they read.
      "@typescript-eslint/no-unsafe-function-type": "off",
      // `_x` names a value left out on purpose (a field dropped by destructuring, an unused parameter).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
      // An async generator cannot be an arrow function: `const self = this` is how it reaches its object.
      "@typescript-eslint/no-this-alias": ["error", { allowedNames: ["self"] }],
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "import-x/no-restricted-paths": ["error", { basePath: import.meta.dirname, zones: layers }],
      // The rules above skip an import they cannot resolve: make sure none is.
      "import-x/no-unresolved": "error",
      // Format: the layout the code has, checked (and fixed by `npm run lint -- --fix`). Not a
      // reformatter's: the compact one-line branches of tables (serialization.ts, worker-pool.ts)
      // and aligned trailing comments are deliberate, so brace-style and no-multi-spaces are off.
      "@stylistic/semi": ["error", "always"],
      "@stylistic/quotes": ["error", "double", { avoidEscape: true, allowTemplateLiterals: "always" }],
      "@stylistic/indent": ["error", 2, { SwitchCase: 1, ignoredNodes: ["ConditionalExpression", "TemplateLiteral *"] }],
      "@stylistic/comma-dangle": ["error", "always-multiline"],
      "@stylistic/keyword-spacing": "error",
      "@stylistic/space-before-blocks": "error",
      "@stylistic/space-infix-ops": "error",
      "@stylistic/comma-spacing": "error",
      "@stylistic/key-spacing": "error",
      "@stylistic/arrow-spacing": "error",
      "@stylistic/no-trailing-spaces": "error",
      "@stylistic/eol-last": "error",
      "@stylistic/no-multiple-empty-lines": ["error", { max: 1 }],
      "@stylistic/member-delimiter-style": "error",
      "@stylistic/type-annotation-spacing": "error",
      "@stylistic/quote-props": ["error", "as-needed"],
      "@stylistic/max-len": ["error", { code: 200, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      "max-lines": ["error", { max: 400, skipBlankLines: false, skipComments: false }],
    },
  },
);
