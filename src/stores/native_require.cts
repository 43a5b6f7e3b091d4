// This file is CommonJS in both builds, so its `require` resolves from this package in each of
// them: it lets the ES build load a CommonJS native module synchronously and only when needed,
// without `import.meta` (which the CommonJS build cannot contain).
export = require;
