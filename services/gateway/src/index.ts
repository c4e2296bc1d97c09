export { buildGateway, GATEWAY_DEFAULTS, type Gateway, type GatewayOptions } from './server.js';
export { GATEWAY_ERROR_CODES, GATEWAY_ONLY_CODES, HTTP_STATUS, errorResponse, type GatewayErrorCode } from './errors.js';
export { openApiPath, frameworkPath } from './routes.js';
export { GATEWAY_HELP, runGateway } from './main.js';
export * as schemas from './schemas.js';
