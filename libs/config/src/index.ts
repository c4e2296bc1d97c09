export { loadConfig, parseFlags, booleanFlag, nodeIdentity, ConfigError, type ConfigSources } from './config.js';
export { createLogger, RateLimitedLog, type Logger, type LoggerOptions } from './logger.js';
export { Metrics, DEFAULT_MAX_SERIES_PER_METRIC, type Labels, type MetricsOptions } from './metrics.js';
export { METRIC_CATALOG, LATENCY_BUCKETS_S, type MetricDef, type MetricType, type CatalogName } from './metric-catalog.js';
export { serveProbes, maybeServeProbes, metricsFlags, METRICS_FLAGS_HELP, type Readiness, type ProbeServer, type ProbeServerOptions } from './metrics-http.js';
export { serveStdioControl, type ControlCommand } from './stdio-control.js';
