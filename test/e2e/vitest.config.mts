import { defineConfig } from 'vitest/config';

// End-to-end tests: the packaged extension in a real VS Code (code-server) driven by a real
// Chromium. One browser and one code-server per file; files run one after another.
export default defineConfig({
  test: {
    name: 'e2e',
    include: ['test/e2e/**/*.e2e.test.ts'],
    globalSetup: ['test/e2e/globalSetup.ts'],
    setupFiles: ['test/helpers/userState.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
