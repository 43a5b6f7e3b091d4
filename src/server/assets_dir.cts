// CommonJS in both builds, so `__dirname` is this file's folder in each of them (the ES build
// cannot use `import.meta` and still compile to CommonJS): the inspector's files sit beside it.
export = __dirname;
