import { defineConfig } from 'vitest/config';

// One runner for the whole repository. `npm test` runs the unit and integration projects; the
// end-to-end project (a real VS Code in a real browser) has its own config in test/e2e/.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/helpers/userState.ts', 'test/helpers/builtInConnectors.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/security/**/*.test.ts'],
          setupFiles: ['test/helpers/userState.ts', 'test/helpers/builtInConnectors.ts'],
          // Generous: tests wait on states, and a loaded 2-core machine starts daemons slowly.
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
