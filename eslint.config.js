// @ts-check
/**
 * The lint: typescript-eslint's recommended rules plus the project's own architecture rules
 * (docs/configuration.md, /work/shared/STYLE.md §7.5): core and runtime never print; only
 * src/core/config/paths.ts asks node:os for the home or temp directory. test/unit/lint.test.ts proves
 * each custom rule fires. Run with `npm run lint` (npm test runs it first, cached).
 */
import tseslint from 'typescript-eslint';

const OS_PATHS_MESSAGE = 'homedir()/tmpdir() only in src/core/config/paths.ts: take paths from loadConfig() / homeDir() / tempDir()';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'vendor/**', 'scratch/**', 'bench-data/**', 'catalog/**', 'docs/**'] },
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    extends: [tseslint.configs.recommended],
    rules: {
      // Intentional and documented where used: catch bindings we ignore, `_`-prefixed parameters kept for a signature.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:os', importNames: ['homedir', 'tmpdir'], message: OS_PATHS_MESSAGE },
            { name: 'os', importNames: ['homedir', 'tmpdir'], message: OS_PATHS_MESSAGE },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        // os.homedir(), os.tmpdir(), whatever the namespace import is called
        { selector: "MemberExpression[property.name=/^(homedir|tmpdir)$/]", message: OS_PATHS_MESSAGE },
      ],
    },
  },
  {
    files: ['src/core/config/paths.ts'],
    rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': 'off' },
  },
  {
    // core is a library and the runtime layer runs under it: results are returned, never printed.
    files: ['src/core/**', 'src/runtime/**'],
    rules: { 'no-console': 'error' },
  },
);
