// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': 'off',
    },
  },
  {
    // Only harness/sys may talk to libc.
    files: ['harness/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    ignores: ['harness/sys/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'koffi', message: 'Only harness/sys imports koffi.' }] },
      ],
    },
  },
  {
    // The VM runner sits beside the library: it may use the lower layers, never the CLI or Vitest layers.
    files: ['vm/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'koffi', message: 'Only harness/sys imports koffi.' }],
          patterns: [
            {
              group: ['**/harness/cli/**', '**/harness/vitest/**'],
              message: 'vm/ must not import from harness/cli or harness/vitest.',
            },
          ],
        },
      ],
    },
  },
)
