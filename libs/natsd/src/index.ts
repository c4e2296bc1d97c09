export { startNatsServer, freePort, NatsServerStartError, type NatsServerHandle, type NatsServerOptions } from './nats-server.js';
export { findNatsServer, NatsServerMissingError } from './find-binary.js';
export { processAlive } from './process-alive.js';
