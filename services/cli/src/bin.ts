#!/usr/bin/env node
// The compiled CLI's entry (services/cli/build.mjs bundles it to dist/bin/synod.mjs). Node maps
// stack traces through source maps only for code loaded after they are switched on, so this
// stub turns them on before loading the CLI: SYNOD_DEBUG=1 stacks then name TypeScript lines.
// Off by default, because reading the maps costs start-up time on every run.
if (process.env.SYNOD_DEBUG === '1') process.setSourceMapsEnabled(true);
await import('./main.js');
