// ESLint (flat config) with typescript-eslint, over the TypeScript sources of every package.
// Import rules that the architecture test (test/architecture.test.ts) does not already hold:
// no deep import of a package's dist/ and no reaching into another package's src/.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'bench/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // Function is the type of a constructor a decorator receives; `{}` appears in generic bounds.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/no-empty-object-type': 'off',
      // tsc's noUnusedLocals / noUnusedParameters already hold; `_`-prefixed names are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/dist/**', '@makalu/*/dist*'], message: 'import a package by its name (its exports), never its dist/' },
          { group: ['@makalu/*/src*', '../../*/src/*', '../../../packages/*'], message: 'import another package by its name' },
        ],
      }],
    },
  },
  {
    // Tests declare classes only for their decorators and use chai's property assertions.
    files: ['**/test/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      // `({ region, heap } = reopen(region, heap))` keeps both names current, used or not.
      'no-useless-assignment': 'off',
      // Fixtures edit parsed JSON.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
)
