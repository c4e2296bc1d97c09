export { loadConfig, parseFlags, booleanFlag, nodeIdentity, ConfigError, type ConfigSources } from './config.js';
export { createLogger, RateLimitedLog, type Logger, type LoggerOptions } from './logger.js';
export { Metrics, type Labels } from './metrics.js';
export { serveStdioControl, type ControlCommand } from './stdio-control.js';
