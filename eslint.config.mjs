// One lint config for the whole repository: typescript-eslint with type information, so that a
// forgotten await (no-floating-promises) is an error everywhere.
import eslint from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * Import rules that keep ownership visible. Domain folders throw the daemon's own errors
 * (daemon/src/errors.ts) and know nothing of JSON-RPC: the router alone maps them
 * (rpc/rpcErrors.ts). test/unit/importRules.test.ts checks that each rule still fires.
 */
const DOMAIN_FOLDERS = [
  'memory',
  'conductor',
  'approvals',
  'trust',
  'governance',
  'files',
  'workspace',
  'runtime',
];
const NO_RPC_IN_DOMAIN = {
  paths: [
    {
      name: '@keel/schemas',
      importNames: ['KeelRpcError', 'ErrorCodes'],
      message: 'Throw a domain error from daemon/src/errors.ts; the router maps it to a JSON-RPC error.',
    },
  ],
  patterns: [
    {
      regex: '^(\\.\\./)+rpc(/|$)',
      message: 'Domain modules do not depend on the RPC layer; the router calls them, not the reverse.',
    },
  ],
};
const NO_DAEMON_IN_EXTENSION = {
  paths: [{ name: '@keel/daemon', message: 'Use @keel/schemas and RPC; the daemon is another process.' }],
  patterns: [
    {
      regex: '(^|/)daemon/src(/|$)|^@keel/daemon/',
      message: 'Use @keel/schemas and RPC; the daemon is another process.',
    },
  ],
};
/** Webview scripts run in the browser: no vscode API, no Node (extension/tsconfig.webview.json). */
const BROWSER_ONLY = {
  paths: [
    ...NO_DAEMON_IN_EXTENSION.paths,
    { name: 'vscode', message: 'A webview script runs in the browser; post a message to the host instead.' },
  ],
  patterns: [
    ...NO_DAEMON_IN_EXTENSION.patterns,
    { regex: '^node:', message: 'A webview script runs in the browser, without Node.' },
  ],
};
const NO_CONDUCTOR_IN_APPROVALS = {
  regex: '^(\\.\\./)+conductor(/|$)',
  message: 'approvals serves the conductor and must not import it: take what it needs as a parameter.',
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'daemon/build/**',
      '.tsbuild/**',
      'test/e2e/.code-server/**',
      'test/e2e/.staging/**',
      'test/e2e/artifacts/**',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.mjs', '*.mts', '*/*.mjs', 'test/e2e/*.mts', 'daemon/bin/*.cjs'],
          // The build and config scripts outside any tsconfig: nine today, a few more allowed.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // vitest reads a fixture's dependencies from its first parameter, which must be an object
    // pattern: a fixture that needs none of the others takes `{}`.
    files: ['test/**/*.ts'],
    rules: { 'no-empty-pattern': ['error', { allowObjectPatternsAsParameters: true }] },
  },
  {
    // No import cycles in the daemon. Type-only imports are erased at build time and do not count.
    files: ['daemon/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Without these import-x reads only .js files, and a cycle through .ts files goes unseen.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: DOMAIN_FOLDERS.map((folder) => `daemon/src/${folder}/**/*.ts`),
    rules: { 'no-restricted-imports': ['error', NO_RPC_IN_DOMAIN] },
  },
  {
    // Repeats the domain rule: a later block replaces a rule's options instead of adding to them.
    files: ['daemon/src/approvals/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { ...NO_RPC_IN_DOMAIN, patterns: [...NO_RPC_IN_DOMAIN.patterns, NO_CONDUCTOR_IN_APPROVALS] },
      ],
    },
  },
  {
    // The extension talks to the daemon over RPC only; shapes they share live in @keel/schemas.
    files: ['extension/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', NO_DAEMON_IN_EXTENSION] },
  },
  {
    // Repeats the extension rule: a later block replaces a rule's options instead of adding to them.
    files: ['extension/src/**/webview/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', BROWSER_ONLY] },
  },
  {
    // vitest's asymmetric matchers (expect.objectContaining, expect.stringContaining) are typed
    // `any`; nesting them inside expected objects is their whole point.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // Plain JavaScript build scripts and the bin shim: no type information to lint against.
    files: ['**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        __dirname: 'readonly',
        __filename: 'readonly',
      },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
);
