import { createRequire } from 'node:module';

/**
 * `require` resolving from this package, for the optional peer dependency express-session
 * (which is CommonJS). The CommonJS build uses `optional-require-cjs.cts` instead.
 */
export const requireFromHere: NodeJS.Require = createRequire(
  // biome-ignore lint/suspicious/noTsIgnore: the ESM build type-checks this line fine, the CommonJS one refuses `import.meta`
  // @ts-ignore
  import.meta.url,
);
