// orval settings for the generated fetch client (tools/sdk/generate.py): one file,
// build/sdk/orval/api.ts, whose functions call `chatFetch` (tools/sdk/orval_fetch.ts)
// so that the base URL and the bearer token are chosen at run time.
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');

module.exports = {
  chat: {
    input: { target: process.env.ORVAL_SPEC || path.join(root, 'openapi.yaml') },
    output: {
      target: path.join(process.env.ORVAL_OUT || path.join(root, 'build', 'sdk', 'orval'), 'api.ts'),
      client: 'fetch',
      mode: 'single',
      override: {
        mutator: { path: path.join(__dirname, 'orval_fetch.ts'), name: 'chatFetch' },
      },
    },
  },
};
