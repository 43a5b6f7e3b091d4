import { createDefaultEsmPreset, type JestConfigWithTsJest } from "ts-jest";

const esmPreset = createDefaultEsmPreset({ tsconfig: "tsconfig.json" });

const config: JestConfigWithTsJest = {
  ...esmPreset,
  // `.cts` sources (CommonJS in both builds) compile as CommonJS.
  transform: { ...esmPreset.transform, "^.+\\.cts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/__tests__/**/*.test.ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1", "^(\\.{1,2}/.*)\\.cjs$": "$1.cts" },
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.ts"],
  testTimeout: 30_000,
};

export default config;
