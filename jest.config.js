/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // Integration tests spawn dist/cli.js; unit tests do not need it, but building takes ~3 s.
  globalSetup: '<rootDir>/test/support/build.ts',
  testTimeout: 60000,
};
