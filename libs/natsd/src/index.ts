export { startNatsServer, natsConfigText, freePort, NatsServerStartError, type NatsServerHandle, type NatsServerOptions, type NatsConfigParts, type NatsClusterConfig } from './nats-server.js';
export { findNatsServer, NatsServerMissingError } from './find-binary.js';
export { processAlive } from './process-alive.js';
