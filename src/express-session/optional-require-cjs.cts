/** `require` of this module, for the optional peer dependency express-session (CommonJS build). */
export const requireFromHere: NodeJS.Require = require;
