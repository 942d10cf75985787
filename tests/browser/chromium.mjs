// What the browser scripts share: how Chromium is started here (headless as root, no
// background traffic, test host names mapped to the loopback address) and where the
// socket.io-client browser bundle is.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// The browser bundle is not among the package's exports: find it beside its entry point.
const require = createRequire(import.meta.url);
const SOCKET_IO_PACKAGE = dirname(require.resolve('socket.io-client/package.json'));
export const SOCKET_IO_BUNDLE = join(SOCKET_IO_PACKAGE, 'dist', 'socket.io.min.js');

export function chromiumFlags(hosts = ['localhost']) {
  const rules = hosts.map((host) => `MAP ${host} 127.0.0.1`).join(', ');
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    `--host-resolver-rules=${rules}`,
  ];
}
